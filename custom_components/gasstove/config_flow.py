"""Config flow: a stove, then one or more burners, each with its relay.

* miio relays are reached (``miIO.info`` and a read of the relay) before the
  burner is accepted: a wrong host or token is caught here, not at 2 a.m.
* MQTT relays need Home Assistant's ``mqtt`` integration set up: we never
  open a broker connection of our own.
* A relay may belong to one burner of one stove only (``already_configured``);
  the entry's unique id is its first relay's address.
* Options: cut length and aliases per burner, maximum burn time.
* Reconfigure (Home Assistant 2024.4+ shows it; on 2024.3 the step exists but
  the UI has no button for it): change a miio relay's host or token.
"""

from __future__ import annotations

import time
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_TOKEN
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers import selector
from pydantic import ValidationError

from gasstove.domain.config import StoveConfig
from gasstove.domain.errors import RelayError, TokenRejected

from .const import (
    CONF_ALIASES,
    CONF_BURNER,
    CONF_BURNERS,
    CONF_CHANNEL,
    CONF_CUT_SECONDS,
    CONF_DEADLINE,
    CONF_DIALECT,
    CONF_MAX_BURN_MINUTES,
    CONF_PROTOCOL,
    CONF_RELAY,
    CONF_TOPIC,
    CONF_WIRING,
    DEFAULT_CUT_SECONDS,
    DEFAULT_DEADLINE,
    DOMAIN,
    MAX_DELAY_MINUTES,
    RELAY_MIIO,
    RELAY_MQTT,
    UI_DIALECTS,
)
from .stove_config import relay_key, stove_dict

WIRINGS = ["normally_closed", "normally_open"]
#: How long the flow waits for a relay to answer before "cannot_connect".
PROBE_DEADLINE_S = DEFAULT_DEADLINE


def _select(options: list[str], key: str) -> selector.SelectSelector:
    return selector.SelectSelector(selector.SelectSelectorConfig(
        options=options, translation_key=key, mode=selector.SelectSelectorMode.DROPDOWN))


def _burner_fields(defaults: dict[str, Any]) -> dict[Any, Any]:
    return {
        vol.Required(CONF_BURNER, default=defaults.get(CONF_BURNER, "left")): str,
        vol.Required(CONF_WIRING, default=defaults.get(CONF_WIRING, WIRINGS[0])): _select(WIRINGS, "wiring"),
        vol.Required(CONF_CUT_SECONDS, default=defaults.get(CONF_CUT_SECONDS, DEFAULT_CUT_SECONDS)):
            selector.NumberSelector(selector.NumberSelectorConfig(
                min=1, max=60, step=0.5, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX)),
    }


def _miio_schema(defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema({
        **_burner_fields(defaults),
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): str,
        vol.Required(CONF_TOKEN, default=defaults.get(CONF_TOKEN, "")): str,
        vol.Required(CONF_PROTOCOL, default=defaults.get(CONF_PROTOCOL, "miot")): _select(["miot", "legacy"],
                                                                                          "protocol"),
    })


def _mqtt_schema(defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema({
        **_burner_fields(defaults),
        vol.Required(CONF_DIALECT, default=defaults.get(CONF_DIALECT, UI_DIALECTS[0])):
            _select(list(UI_DIALECTS), "dialect"),
        vol.Required(CONF_TOPIC, default=defaults.get(CONF_TOPIC, "")): str,
        vol.Optional(CONF_CHANNEL): vol.All(vol.Coerce(int), vol.Range(min=0, max=32)),
    })


#: The form field each part of a pydantic error location is about, and its error key.
#: Selectors bound everything else (wiring, cut length, protocol, dialect), so any
#: other error is unexpected and reported for the whole form.
FIELD_ERRORS = {
    "[key]": (CONF_BURNER, "invalid_burner"),
    "token": (CONF_TOKEN, "invalid_token"),
    "host": (CONF_HOST, "invalid_host"),
    "topic": (CONF_TOPIC, "invalid_topic"),
    "channel": (CONF_TOPIC, "invalid_topic"),
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
    from gasstove.adapters.miio_relay import MiioRelay

    config = StoveConfig.model_validate({"burners": {"probe": {CONF_RELAY: relay}}}).burners["probe"].relay
    driver = MiioRelay(config)  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + PROBE_DEADLINE_S
        await driver.identify(deadline=deadline)
        await driver.read(deadline=deadline)
    except TokenRejected:
        return "invalid_auth"
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

    def __init__(self) -> None:
        self._name = "Gas stove"
        self._burners: dict[str, dict[str, Any]] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return GasStoveOptionsFlow(config_entry)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        if user_input is not None:
            self._name = user_input[CONF_NAME].strip() or self._name
            return await self.async_step_relay_type()
        return self.async_show_form(step_id="user", data_schema=vol.Schema(
            {vol.Required(CONF_NAME, default=self._name): str}))

    async def async_step_relay_type(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        return self.async_show_menu(step_id="relay_type", menu_options=[RELAY_MIIO, RELAY_MQTT])

    async def async_step_next(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        return self.async_show_menu(step_id="next", menu_options=[RELAY_MIIO, RELAY_MQTT, "finish"])

    async def async_step_miio(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            relay = {"type": RELAY_MIIO, "host": user_input[CONF_HOST].strip(),
                     "token": user_input[CONF_TOKEN].strip().lower(),
                     "protocol": user_input[CONF_PROTOCOL]}
            errors = await self._async_add_burner(user_input, relay)
            if not errors and (error := await _probe(self.hass, relay)):
                self._burners.pop(user_input[CONF_BURNER].strip())
                errors = {"base": error}
            if not errors:
                return await self._async_next()
        return self.async_show_form(step_id="miio", data_schema=self.add_suggested_values_to_schema(
            _miio_schema({}), {k: v for k, v in (user_input or {}).items() if k != CONF_TOKEN}),
            errors=errors)

    async def async_step_mqtt(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        if not self.hass.config_entries.async_entries("mqtt"):
            return self.async_abort(reason="mqtt_not_configured")
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
            _mqtt_schema({}), user_input or {}), errors=errors)

    async def _async_add_burner(self, user_input: dict[str, Any], relay: dict[str, Any]) -> dict[str, str]:
        name = user_input[CONF_BURNER].strip()
        burner = {CONF_WIRING: user_input[CONF_WIRING], CONF_CUT_SECONDS: float(user_input[CONF_CUT_SECONDS]),
                  CONF_RELAY: relay}
        if name in self._burners:
            return {CONF_BURNER: "duplicate_burner"}
        try:
            StoveConfig.model_validate({"burners": {**self._burners, name: burner}})
        except ValidationError as err:
            return _field_error(err)
        key = relay_key(relay)
        if key in {relay_key(b[CONF_RELAY]) for b in self._burners.values()}:
            return {"base": "duplicate_relay"}
        if key in _relay_keys_in_use(self.hass):
            return {"base": "already_configured"}
        self._burners[name] = burner
        return {}

    async def _async_next(self) -> FlowResult:
        return await self.async_step_next()

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        first = next(iter(self._burners.values()))
        await self.async_set_unique_id(relay_key(first[CONF_RELAY]))
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=self._name, data={
            CONF_NAME: self._name, CONF_DEADLINE: DEFAULT_DEADLINE, CONF_BURNERS: self._burners})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Change a miio relay's host and token (the relay got a new address or was re-paired)."""
        entry = self.hass.config_entries.async_get_entry(self.context["entry_id"])
        assert entry is not None
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
                errors = {"base": error}
            if not errors:
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_BURNERS: burners})
                await self.hass.config_entries.async_reload(entry.entry_id)
                return self.async_abort(reason="reconfigure_successful")
        return self.async_show_form(step_id="reconfigure", data_schema=vol.Schema({
            vol.Required(CONF_BURNER, default=miio[0]): vol.In(miio),
            vol.Required(CONF_HOST, default=entry.data[CONF_BURNERS][miio[0]][CONF_RELAY]["host"]): str,
            vol.Required(CONF_TOKEN): str,
        }), errors=errors)


class GasStoveOptionsFlow(OptionsFlow):
    """Maximum burn time, then each burner's cut length and aliases, one form per burner.

    One form per burner keeps every field key fixed (``cut_seconds``,
    ``aliases``), so Home Assistant translates its label and help; the burner's
    name comes in through a description placeholder. Keeps the entry as
    ``self._entry``: assigning ``self.config_entry`` is deprecated on current
    Home Assistant, and 2024.3 does not set it for us.
    """

    def __init__(self, entry: ConfigEntry) -> None:
        self._entry = entry
        self._burners = list(entry.data[CONF_BURNERS])
        self._cut: dict[str, float] = {}
        self._aliases: dict[str, list[str]] = {}
        self._max_burn = 0

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        if user_input is not None:
            self._max_burn = int(user_input[CONF_MAX_BURN_MINUTES])
            return await self.async_step_burner()
        return self.async_show_form(step_id="init", data_schema=vol.Schema({
            vol.Required(CONF_MAX_BURN_MINUTES,
                         default=self._entry.options.get(CONF_MAX_BURN_MINUTES, 0)):
                selector.NumberSelector(selector.NumberSelectorConfig(
                    min=0, max=MAX_DELAY_MINUTES, step=1, unit_of_measurement="min",
                    mode=selector.NumberSelectorMode.BOX)),
        }))

    async def async_step_burner(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        name = self._burners[len(self._cut)]  # the burners are asked in order
        errors: dict[str, str] = {}
        if user_input is not None:
            cut = float(user_input[CONF_CUT_SECONDS])
            aliases = [a.strip() for a in user_input.get(CONF_ALIASES, "").split(",") if a.strip()]
            # Burners still to come are checked without their aliases, so an alias
            # can move from one burner to another across the forms.
            trial = {CONF_CUT_SECONDS: {**self._cut, name: cut},
                     CONF_ALIASES: {**self._aliases, name: aliases}}
            try:
                StoveConfig.model_validate(stove_dict(dict(self._entry.data), trial))
            except ValidationError:
                # The selector has bounded the cut length already: only aliases are left.
                errors = {CONF_ALIASES: "invalid_aliases"}
            else:
                self._cut[name], self._aliases[name] = cut, aliases
                if len(self._cut) < len(self._burners):
                    return await self.async_step_burner()
                return self.async_create_entry(title="", data={
                    CONF_CUT_SECONDS: self._cut, CONF_ALIASES: self._aliases,
                    CONF_MAX_BURN_MINUTES: self._max_burn})
        options = self._entry.options
        cut_default = options.get(CONF_CUT_SECONDS, {}).get(
            name, self._entry.data[CONF_BURNERS][name].get(CONF_CUT_SECONDS, DEFAULT_CUT_SECONDS))
        aliases_default = ", ".join(options.get(CONF_ALIASES, {}).get(name, []))
        return self.async_show_form(step_id="burner", data_schema=vol.Schema({
            vol.Required(CONF_CUT_SECONDS, default=cut_default): selector.NumberSelector(
                selector.NumberSelectorConfig(min=1, max=60, step=0.5, unit_of_measurement="s",
                                              mode=selector.NumberSelectorMode.BOX)),
            vol.Optional(CONF_ALIASES, default=aliases_default): str,
        }), errors=errors, description_placeholders={"burner": name})
