"""Config flow: a stove, then one or more burners, each with its relay.

* A burner is named in any language ("左灶", "Left"): that name is shown
  everywhere and kept as the burner's first alias (the library's notion of
  other words for a burner), while an ASCII key derived from it ("zuo_zao")
  names it in entity ids, topics and services.

* miio relays are reached (``miIO.info`` and a read of the relay) before the
  burner is accepted: a wrong host or token is caught here, not at 2 a.m.
* MQTT relays need Home Assistant's ``mqtt`` integration set up: we never
  open a broker connection of our own.
* A relay may belong to one burner of one stove only (``already_configured``);
  the entry's unique id is its first relay's address.
* Options: the longest timer; per burner its name, cut length and aliases, then
  its flame input and maximum burn time.
* After an error a form keeps what was typed (the token too: it is the
  user's own input, shown masked, and retyping 32 hex digits is where typos
  come from).
* Reconfigure (Home Assistant 2024.4+ shows it; on 2024.3 the step exists but
  the UI has no button for it): change a miio relay's host or token.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_TOKEN
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult, section
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector
from homeassistant.util import slugify
from pydantic import ValidationError

from gasstove import (
    ALL_WORDS,
    BURNER_NAME,
    RelayError,
    StoveConfig,
    TokenRejected,
    build_relays,
    topic_dialects,
)

from .const import (
    CONF_ALIASES,
    CONF_AWAY_AFTER,
    CONF_BURNER,
    CONF_BURNERS,
    CONF_CHANNEL,
    CONF_CUT_SECONDS,
    CONF_DEADLINE,
    CONF_DIALECT,
    CONF_ENTITY_ID,
    CONF_FLAME,
    CONF_FLAME_ENTITY,
    CONF_FLAME_LIT_AT,
    CONF_FLAME_OUT_BELOW,
    CONF_HAZARDS,
    CONF_LEGACY_MAX_BURN_MINUTES,
    CONF_LONGEST_TIMER_MINUTES,
    CONF_MAX_BURN,
    CONF_NOTIFY,
    CONF_PRESENCE,
    CONF_PROTOCOL,
    CONF_RELAY,
    CONF_STOVE_ID,
    CONF_TOPIC,
    CONF_WARN_BEFORE,
    CONF_WIRING,
    DEFAULT_AWAY_AFTER_MINUTES,
    DEFAULT_CUT_SECONDS,
    DEFAULT_DEADLINE,
    DEFAULT_WARN_BEFORE_S,
    DOMAIN,
    LEGACY_FLAME_BAND,
    MAX_DELAY_MINUTES,
    RELAY_HASS,
    RELAY_MIIO,
    RELAY_MQTT,
)
from .guard import HAZARD_KINDS, guard_config
from .stove_config import relay_key, stove_dict
from .switch_relay import entity_problem
from .words import async_text, join_names

WIRINGS = ["normally_closed", "normally_open"]
#: The collapsed section of the miio form: what most people never need to change.
ADVANCED = "advanced"
CONF_DISPLAY_NAME = "name"
#: How long the flow waits for a relay to answer before "cannot_connect".
PROBE_DEADLINE_S = DEFAULT_DEADLINE


def _select(options: list[str], key: str) -> selector.SelectSelector:
    return selector.SelectSelector(selector.SelectSelectorConfig(
        options=options, translation_key=key, mode=selector.SelectSelectorMode.DROPDOWN))


#: A token is typed once and shown masked, never in clear on a screen.
TOKEN_SELECTOR = selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD))


def _cut_selector() -> selector.NumberSelector:
    return selector.NumberSelector(selector.NumberSelectorConfig(
        min=1, max=60, step=0.5, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX))


def _burner_fields() -> dict[Any, Any]:
    return {
        vol.Required(CONF_BURNER): str,
        vol.Required(CONF_WIRING, default=WIRINGS[0]): _select(WIRINGS, "wiring"),
        vol.Required(CONF_CUT_SECONDS, default=DEFAULT_CUT_SECONDS): _cut_selector(),
    }


def _miio_schema() -> vol.Schema:
    return vol.Schema({
        **_burner_fields(),
        vol.Required(CONF_HOST): str,
        vol.Required(CONF_TOKEN): TOKEN_SELECTOR,
        # The property or plug command the relay takes: jargon that almost nobody changes.
        # The default holds the protocol: the frontend starts a section from its default and
        # refuses to send a form whose section lacks a required field (even a closed one).
        vol.Required(ADVANCED, default={CONF_PROTOCOL: "miot"}): section(vol.Schema({
            vol.Required(CONF_PROTOCOL, default="miot"): _select(["miot", "legacy"], "protocol"),
        }), {"collapsed": True}),
    })


def _dialect_selector(titles: dict[str, str]) -> selector.SelectSelector:
    """Each dialect labelled with its title; a translation of it, where one exists, wins
    (the frontend's ha-selector-select.ts replaces an option's label only with a non-empty
    ``<translation_key>.options.<value>``): a new dialect needs no translation."""
    return selector.SelectSelector(selector.SelectSelectorConfig(
        options=[selector.SelectOptionDict(value=name, label=title) for name, title in titles.items()],
        translation_key="dialect", mode=selector.SelectSelectorMode.DROPDOWN))


def _mqtt_schema() -> vol.Schema:
    # The form asks for one topic: ``generic`` needs a dozen topics and payloads and is
    # left to the YAML configuration of the CLI.
    dialects = topic_dialects()
    return vol.Schema({
        **_burner_fields(),
        vol.Required(CONF_DIALECT, default=next(iter(dialects))): _dialect_selector(dialects),
        vol.Required(CONF_TOPIC): str,
        vol.Optional(CONF_CHANNEL): vol.All(vol.Coerce(int), vol.Range(min=0, max=32)),
    })


def _hass_schema() -> vol.Schema:
    return vol.Schema({
        **_burner_fields(),
        vol.Required(CONF_ENTITY_ID): selector.EntitySelector(selector.EntitySelectorConfig(domain="switch")),
    })


def burner_key(name: str, taken: set[str]) -> str:
    """The ASCII key for a burner named ``name`` in any language: its transliteration
    ("左灶": "zuo_zao", "Back left": "back_left") when that is a valid, free burner
    name, else the first free ``burner_<n>``."""
    key = slugify(name)[:32].rstrip("_")
    if BURNER_NAME.fullmatch(key) and key not in ALL_WORDS and key not in taken:
        return key
    return next(f"burner_{n}" for n in range(1, len(taken) + 2) if f"burner_{n}" not in taken)


def _tidy(name: str) -> str:
    return " ".join(name.split())


#: The form field each part of a pydantic error location is about, and its error key.
#: Selectors bound everything else (wiring, cut length, protocol, dialect), so any
#: other error is unexpected and reported for the whole form.
FIELD_ERRORS = {
    # The key is made valid (burner_key); the name, kept as an alias, may still mean "all".
    "aliases": (CONF_BURNER, "invalid_burner"),
    "token": (CONF_TOKEN, "invalid_token"),
    "host": (CONF_HOST, "invalid_host"),
    "topic": (CONF_TOPIC, "invalid_topic"),
    "channel": (CONF_TOPIC, "invalid_topic"),
    "entity_id": (CONF_ENTITY_ID, "entity_not_found"),
}


def _field_error(err: ValidationError) -> dict[str, str]:
    """The form fields a pydantic error is about, as translation keys."""
    errors: dict[str, str] = {}
    for item in err.errors():
        field, key = next((FIELD_ERRORS[str(p)] for p in item["loc"] if str(p) in FIELD_ERRORS),
                          ("base", "invalid_config"))
        errors[field] = key
    return errors


async def _async_test_miio(relay: dict[str, Any]) -> str | None:
    """None when the relay answers and reads; else an error key. Switches nothing."""
    stove = StoveConfig.model_validate({"burners": {"probe": {CONF_RELAY: relay}}})
    (driver,) = build_relays(stove).values()
    try:
        deadline = time.monotonic() + PROBE_DEADLINE_S
        await driver.identify(deadline=deadline)
        await driver.read(deadline=deadline)
    except TokenRejected:
        return "invalid_auth"  # the token's fault: shown on its field
    except RelayError:
        return "cannot_connect"
    finally:
        await driver.close()
    return None


async def _probe(hass: HomeAssistant, relay: dict[str, Any]) -> str | None:
    """``_async_test_miio`` in a task of its own, so the step resumes with its result.

    Without the task, the relay's exception would be thrown up through the
    step's frame, after which CPython 3.11's tracer no longer reports that
    frame's lines: coverage would call the error paths below untested.
    """
    return await hass.async_create_task(_async_test_miio(relay))


def _relay_keys_in_use(hass: HomeAssistant, skip: str | None = None) -> set[str]:
    keys: set[str] = set()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.entry_id == skip:
            continue
        for burner in entry.data.get(CONF_BURNERS, {}).values():
            keys.add(relay_key(burner[CONF_RELAY]))
    return keys


class GasStoveConfigFlow(ConfigFlow, domain=DOMAIN):
    VERSION = 1
    #: 1.2: entries carry CONF_STOVE_ID (``async_migrate_entry`` gives older ones theirs).
    MINOR_VERSION = 2

    def __init__(self) -> None:
        self._name = ""
        self._burners: dict[str, dict[str, Any]] = {}
        #: Each burner's name as typed, by key (kept as its first alias).
        self._names: dict[str, str] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return GasStoveOptionsFlow(config_entry)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        default = await async_text(self.hass, "default_stove_name")
        if user_input is not None:
            self._name = _tidy(user_input[CONF_NAME]) or default
            return await self.async_step_relay_type()
        return self.async_show_form(step_id="user", data_schema=vol.Schema(
            {vol.Required(CONF_NAME, default=default): str}))

    async def async_step_relay_type(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        return self.async_show_menu(step_id="relay_type", menu_options=[RELAY_MIIO, RELAY_MQTT, RELAY_HASS])

    async def async_step_next(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        return self.async_show_menu(
            step_id="next", menu_options=[RELAY_MIIO, RELAY_MQTT, RELAY_HASS, "finish"],
            description_placeholders={"stove": self._name,
                                      "burners": join_names(self.hass, self._names.values())})

    async def _async_menu(self) -> FlowResult:
        """Back to choosing the next burner's relay."""
        if self._burners:
            return await self.async_step_next()
        return await self.async_step_relay_type()

    async def async_step_miio(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            relay = {"type": RELAY_MIIO, "host": user_input[CONF_HOST].strip(),
                     "token": user_input[CONF_TOKEN].strip().lower(),
                     "protocol": user_input[ADVANCED][CONF_PROTOCOL]}
            errors = await self._async_add_burner(user_input, relay)
            if not errors and (error := await _probe(self.hass, relay)):
                self._forget(user_input)
                errors = {CONF_TOKEN if error == "invalid_auth" else "base": error}
            if not errors:
                return await self._async_next()
        return self.async_show_form(step_id="miio", data_schema=self.add_suggested_values_to_schema(
            _miio_schema(), user_input), errors=errors)

    async def async_step_mqtt(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        if not self.hass.config_entries.async_entries("mqtt"):
            # Not an abort: that would throw away the burners entered so far. The form
            # says what to do; submitting it goes back to the menu.
            if user_input is not None:
                return await self._async_menu()
            return self.async_show_form(step_id="mqtt", data_schema=vol.Schema({}),
                                        errors={"base": "mqtt_not_configured"})
        errors: dict[str, str] = {}
        if user_input is not None:
            relay: dict[str, Any] = {"type": RELAY_MQTT, "dialect": user_input[CONF_DIALECT],
                                     "topic": user_input[CONF_TOPIC].strip()}
            if user_input.get(CONF_CHANNEL) is not None:
                relay["channel"] = user_input[CONF_CHANNEL]
            errors = await self._async_add_burner(user_input, relay)
            if not errors:
                return await self._async_next()
        return self.async_show_form(step_id="mqtt", data_schema=self.add_suggested_values_to_schema(
            _mqtt_schema(), user_input), errors=errors)

    async def async_step_hass(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """A switch entity Home Assistant already has. Refused unless it can confirm a cut:
        one that exists, is available now, reports the device's state (no ``assumed_state``)
        and is not one of our own entities."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entity_id = user_input[CONF_ENTITY_ID]
            entry = er.async_get(self.hass).async_get(entity_id)
            if entry is not None and entry.platform == DOMAIN:
                errors = {CONF_ENTITY_ID: "entity_is_gasstove"}
            elif problem := entity_problem(self.hass.states.get(entity_id)):
                errors = {CONF_ENTITY_ID: problem}
            else:
                errors = await self._async_add_burner(user_input, {"type": RELAY_HASS,
                                                                   "entity_id": entity_id})
            if not errors:
                return await self._async_next()
        return self.async_show_form(step_id="hass", data_schema=self.add_suggested_values_to_schema(
            _hass_schema(), user_input), errors=errors)

    async def _async_add_burner(self, user_input: dict[str, Any], relay: dict[str, Any]) -> dict[str, str]:
        name = _tidy(user_input[CONF_BURNER])
        burner = {CONF_WIRING: user_input[CONF_WIRING], CONF_CUT_SECONDS: float(user_input[CONF_CUT_SECONDS]),
                  CONF_RELAY: relay}
        if not name:
            return {CONF_BURNER: "invalid_burner"}
        words = {w.casefold() for key, shown in self._names.items()
                 for w in (key, key.replace("_", " "), shown)}
        if name.casefold() in words:
            return {CONF_BURNER: "duplicate_burner"}
        key = burner_key(name, set(self._burners))
        aliases = {k: [n] for k, n in {**self._names, key: name}.items()}
        try:
            StoveConfig.model_validate(stove_dict({CONF_BURNERS: {**self._burners, key: burner}},
                                                  {CONF_ALIASES: aliases}))
        except ValidationError as err:
            return _field_error(err)
        relay_in_use = relay_key(relay)
        if relay_in_use in {relay_key(b[CONF_RELAY]) for b in self._burners.values()}:
            return {"base": "duplicate_relay"}
        if relay_in_use in _relay_keys_in_use(self.hass):
            return {"base": "already_configured"}
        self._burners[key], self._names[key] = burner, name
        return {}

    async def _async_next(self) -> FlowResult:
        return await self.async_step_next()

    def _forget(self, user_input: dict[str, Any]) -> None:
        """Take back the burner just added (its relay failed the probe)."""
        key = next(k for k, n in self._names.items() if n == _tidy(user_input[CONF_BURNER]))
        del self._burners[key], self._names[key]

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        first = next(iter(self._burners.values()))
        await self.async_set_unique_id(relay_key(first[CONF_RELAY]))
        self._abort_if_unique_id_configured()
        # A name typed as its own key ("left") needs no alias: it is shown as "Left".
        aliases = {key: [name] for key, name in self._names.items() if name != key}
        return self.async_create_entry(
            title=self._name,
            data={CONF_NAME: self._name, CONF_DEADLINE: DEFAULT_DEADLINE, CONF_BURNERS: self._burners,
                  CONF_STOVE_ID: uuid.uuid4().hex},
            options={CONF_ALIASES: aliases} if aliases else {})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Change a miio relay's host and token (the relay got a new address or was re-paired)."""
        entry = self.hass.config_entries.async_get_entry(self.context["entry_id"])
        assert entry is not None
        config = StoveConfig.model_validate(stove_dict(dict(entry.data), dict(entry.options)))
        miio = [n for n, b in entry.data[CONF_BURNERS].items() if b[CONF_RELAY]["type"] == RELAY_MIIO]
        if not miio:
            return self.async_abort(reason="nothing_to_reconfigure")
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_BURNER]
            burners = {n: dict(b) for n, b in entry.data[CONF_BURNERS].items()}
            relay = {**burners[name][CONF_RELAY], "host": user_input[CONF_HOST].strip(),
                     "token": user_input[CONF_TOKEN].strip().lower()}
            burners[name] = {**burners[name], CONF_RELAY: relay}
            try:
                StoveConfig.model_validate({"burners": burners})
            except ValidationError as err:
                errors = _field_error(err)
            if not errors and relay_key(relay) in _relay_keys_in_use(self.hass, skip=entry.entry_id):
                errors = {"base": "already_configured"}
            if not errors and (error := await _probe(self.hass, relay)):
                errors = {CONF_TOKEN if error == "invalid_auth" else "base": error}
            if not errors:
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_BURNERS: burners})
                await self.hass.config_entries.async_reload(entry.entry_id)
                return self.async_abort(reason="reconfigure_successful")
        schema = vol.Schema({
            vol.Required(CONF_BURNER, default=miio[0]): selector.SelectSelector(selector.SelectSelectorConfig(
                options=[selector.SelectOptionDict(value=n, label=config.display_name(n)) for n in miio],
                mode=selector.SelectSelectorMode.DROPDOWN)),
            vol.Required(CONF_HOST, default=entry.data[CONF_BURNERS][miio[0]][CONF_RELAY]["host"]): str,
            vol.Required(CONF_TOKEN): TOKEN_SELECTOR,
        })
        return self.async_show_form(step_id="reconfigure", data_schema=self.add_suggested_values_to_schema(
            schema, user_input), errors=errors)


class GasStoveOptionsFlow(OptionsFlow):
    """The longest timer, then per burner its name, cut length and aliases, then its flame
    input and maximum burn time (two names, two limits: see const.py).

    One form per burner keeps every field key fixed (``name``, ``cut_seconds``,
    ``aliases``), so Home Assistant translates its label and help; the burner's
    name comes in through a description placeholder. The name shown is kept as
    the burner's first alias (see :meth:`StoveConfig.display_name`). Keeps the
    entry as ``self._entry``: assigning ``self.config_entry`` is deprecated on
    current Home Assistant.
    """

    def __init__(self, entry: ConfigEntry) -> None:
        self._entry = entry
        self._config = StoveConfig.model_validate(stove_dict(dict(entry.data), dict(entry.options)))
        self._burners = list(entry.data[CONF_BURNERS])
        self._cut: dict[str, float] = {}
        self._aliases: dict[str, list[str]] = {}
        #: Each burner's name as just entered, for the title of its flame form.
        self._shown: dict[str, str] = {}
        self._flame: dict[str, dict[str, Any]] = {}
        self._max_burn: dict[str, int] = {}
        self._longest_timer = 0
        self._guard: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """The longest timer and the stove guard's inputs (the library's ``guard`` section,
        checked by its model: the warning must come before the inactivity cut)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            guard = {CONF_AWAY_AFTER: int(user_input.get(CONF_AWAY_AFTER, DEFAULT_AWAY_AFTER_MINUTES)),
                     CONF_WARN_BEFORE: int(user_input.get(CONF_WARN_BEFORE, DEFAULT_WARN_BEFORE_S)),
                     CONF_HAZARDS: list(user_input.get(CONF_HAZARDS) or []),
                     CONF_NOTIFY: bool(user_input.get(CONF_NOTIFY, False))}
            if user_input.get(CONF_PRESENCE):
                guard[CONF_PRESENCE] = user_input[CONF_PRESENCE]
            try:
                guard_config(guard, {})
            except ValidationError:
                errors = {CONF_WARN_BEFORE: "warn_before_too_long"}
            else:
                self._longest_timer = int(user_input[CONF_LONGEST_TIMER_MINUTES])
                self._guard = guard
                return await self.async_step_burner()
        options = self._entry.options
        # An entry from before the rename keeps its limit (under its old key).
        longest = options.get(CONF_LONGEST_TIMER_MINUTES, options.get(CONF_LEGACY_MAX_BURN_MINUTES, 0))
        schema = vol.Schema({
            vol.Required(CONF_LONGEST_TIMER_MINUTES, default=longest):
                selector.NumberSelector(selector.NumberSelectorConfig(
                    min=0, max=MAX_DELAY_MINUTES, step=1, unit_of_measurement="min",
                    mode=selector.NumberSelectorMode.BOX)),
            vol.Optional(CONF_PRESENCE): selector.EntitySelector(selector.EntitySelectorConfig(
                domain=["binary_sensor", "person", "device_tracker", "zone", "input_boolean"])),
            vol.Optional(CONF_HAZARDS): selector.EntitySelector(selector.EntitySelectorConfig(
                domain="binary_sensor", device_class=list(HAZARD_KINDS), multiple=True)),
            vol.Required(CONF_AWAY_AFTER, default=options.get(CONF_AWAY_AFTER, DEFAULT_AWAY_AFTER_MINUTES)):
                selector.NumberSelector(selector.NumberSelectorConfig(
                    min=1, max=24 * 60, step=1, unit_of_measurement="min",
                    mode=selector.NumberSelectorMode.BOX)),
            vol.Required(CONF_WARN_BEFORE, default=options.get(CONF_WARN_BEFORE, DEFAULT_WARN_BEFORE_S)):
                selector.NumberSelector(selector.NumberSelectorConfig(
                    min=0, max=600, step=1, unit_of_measurement="s",
                    mode=selector.NumberSelectorMode.BOX)),
            vol.Required(CONF_NOTIFY, default=options.get(CONF_NOTIFY, False)): selector.BooleanSelector(),
        })
        suggested = {CONF_PRESENCE: options.get(CONF_PRESENCE), CONF_HAZARDS: options.get(CONF_HAZARDS),
                     **(user_input or {})}
        return self.async_show_form(
            step_id="init", errors=errors,
            data_schema=self.add_suggested_values_to_schema(
                schema, {k: v for k, v in suggested.items() if v}),
            description_placeholders={"burners": join_names(
                self.hass, [self._config.display_name(b) for b in self._burners])})

    async def async_step_burner(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        key = self._burners[len(self._cut)]  # the burners are asked in order
        shown = self._config.display_name(key)
        errors: dict[str, str] = {}
        if user_input is not None:
            cut = float(user_input[CONF_CUT_SECONDS])
            name = _tidy(user_input[CONF_DISPLAY_NAME])
            others = [a.strip() for a in user_input.get(CONF_ALIASES, "").split(",") if a.strip()]
            # The name leads the aliases; the key's own spelling needs no alias.
            plain = name.casefold() in (key, key.replace("_", " ")) and not others
            aliases = [] if plain else [name, *[a for a in others if a != name]]
            # Burners still to come are checked without their aliases, so an alias
            # can move from one burner to another across the forms.
            trial = {CONF_CUT_SECONDS: {**self._cut, key: cut},
                     CONF_ALIASES: {**self._aliases, key: aliases}}
            try:
                StoveConfig.model_validate(stove_dict(dict(self._entry.data), trial))
            except ValidationError:
                # The selector has bounded the cut length already: only names are left.
                errors = {CONF_ALIASES: "invalid_aliases"}
            taken = {w.casefold() for other in self._burners if other != key
                     for w in (other, other.replace("_", " "), *self._aliases.get(other, []))}
            if name.casefold() in taken:
                errors = {CONF_DISPLAY_NAME: "duplicate_burner"}
            if not name:
                errors = {CONF_DISPLAY_NAME: "invalid_burner"}
            if not errors:
                self._cut[key], self._aliases[key], self._shown[key] = cut, aliases, name
                return await self.async_step_flame()
        schema = vol.Schema({
            vol.Required(CONF_DISPLAY_NAME, default=shown): str,
            vol.Required(CONF_CUT_SECONDS, default=self._config.burners[key].cut_seconds): _cut_selector(),
            vol.Optional(CONF_ALIASES, default=", ".join(self._config.burners[key].aliases[1:])): str,
        })
        return self.async_show_form(step_id="burner", data_schema=self.add_suggested_values_to_schema(
            schema, user_input), errors=errors, description_placeholders={"burner": shown, "key": key})

    async def async_step_flame(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """The burner's flame input and maximum burn time, as the daemon's ``flame`` and
        ``max_burn``: a binary sensor (on = lit) or a temperature sensor with the reading
        at which it is lit; the maximum burn time needs one, as in gasstove.yaml."""
        key = self._burners[len(self._flame)]  # the burner whose cut form came just before
        errors: dict[str, str] = {}
        if user_input is not None:
            entity = user_input.get(CONF_FLAME_ENTITY)
            lit_at = user_input.get(CONF_FLAME_LIT_AT)
            out_below = user_input.get(CONF_FLAME_OUT_BELOW)
            minutes = int(user_input.get(CONF_MAX_BURN) or 0)
            if entity and entity.startswith("sensor.") and lit_at is None:
                errors = {CONF_FLAME_LIT_AT: "flame_lit_at_needed"}
            elif entity and entity.startswith("binary_sensor.") and (
                    lit_at is not None or out_below is not None):
                errors = {CONF_FLAME_LIT_AT: "flame_lit_at_binary"}
            elif lit_at is not None and out_below is not None and out_below > lit_at:
                errors = {CONF_FLAME_OUT_BELOW: "flame_out_below_above"}
            elif minutes and not entity:
                errors = {CONF_MAX_BURN: "max_burn_needs_flame"}
            else:
                flame: dict[str, Any] = {CONF_FLAME_ENTITY: entity} if entity else {}
                if entity and lit_at is not None:
                    flame[CONF_FLAME_LIT_AT] = float(lit_at)
                    flame[CONF_FLAME_OUT_BELOW] = float(
                        lit_at - LEGACY_FLAME_BAND if out_below is None else out_below)
                self._flame[key], self._max_burn[key] = flame, minutes
                if len(self._flame) < len(self._burners):
                    return await self.async_step_burner()
                return self.async_create_entry(title="", data={
                    CONF_CUT_SECONDS: self._cut, CONF_ALIASES: self._aliases,
                    CONF_FLAME: self._flame, CONF_MAX_BURN: self._max_burn,
                    CONF_LONGEST_TIMER_MINUTES: self._longest_timer, **self._guard})
        saved = self._entry.options.get(CONF_FLAME, {}).get(key, {})
        suggested = {CONF_FLAME_ENTITY: saved.get(CONF_FLAME_ENTITY),
                     CONF_FLAME_LIT_AT: saved.get(CONF_FLAME_LIT_AT),
                     CONF_FLAME_OUT_BELOW: saved.get(CONF_FLAME_OUT_BELOW),
                     CONF_MAX_BURN: self._entry.options.get(CONF_MAX_BURN, {}).get(key, 0),
                     **(user_input or {})}
        schema = vol.Schema({
            vol.Optional(CONF_FLAME_ENTITY): selector.EntitySelector(
                selector.EntitySelectorConfig(domain=["binary_sensor", "sensor"])),
            vol.Optional(CONF_FLAME_LIT_AT): selector.NumberSelector(selector.NumberSelectorConfig(
                min=-50, max=1000, step=0.5, mode=selector.NumberSelectorMode.BOX)),
            vol.Optional(CONF_FLAME_OUT_BELOW): selector.NumberSelector(selector.NumberSelectorConfig(
                min=-50, max=1000, step=0.5, mode=selector.NumberSelectorMode.BOX)),
            vol.Optional(CONF_MAX_BURN): selector.NumberSelector(selector.NumberSelectorConfig(
                min=0, max=MAX_DELAY_MINUTES, step=1, unit_of_measurement="min",
                mode=selector.NumberSelectorMode.BOX)),
        })
        return self.async_show_form(
            step_id="flame", errors=errors,
            description_placeholders={"burner": self._shown[key]},
            data_schema=self.add_suggested_values_to_schema(
                schema, {k: v for k, v in suggested.items() if v is not None}))
