"""Config flow: every step, error and abort, against simulated relays over UDP."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from unittest.mock import patch

import pytest
import voluptuous as vol
from custom_components.gasstove.const import DOMAIN
from homeassistant import config_entries, data_entry_flow
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from gasstove.domain.dialects import REGISTRY, Tasmota

from .conftest import DEAD_HOST, TOKEN, entry_data, miio_burner

MIIO_INPUT = {"burner": "left", "wiring": "normally_closed", "cut_seconds": 2}


async def _to_miio(hass: HomeAssistant, name: str = "Kitchen") -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] == FlowResultType.FORM
    _assert_labelled(result, "config")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": name})
    assert result["type"] == FlowResultType.MENU
    assert result["menu_options"] == ["miio", "mqtt", "hass"]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})


async def test_miio_two_burners(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right", wiring="normally_open")
    result = await _to_miio(hass)
    assert result["step_id"] == "miio"
    _assert_labelled(result, "config")
    # A name in any language: shown as typed, keyed by its transliteration.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": " 左灶 ", "host": left.host, "token": TOKEN.upper()})
    assert result["type"] == FlowResultType.MENU
    assert result["step_id"] == "next"
    assert result["description_placeholders"] == {"stove": "Kitchen", "burners": "左灶"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": "Right", "wiring": "normally_open",
                            "host": right.host, "token": TOKEN, "advanced": {"protocol": "miot"}})
    # After "Burner added": which burners the stove has so far.
    assert result["description_placeholders"] == {"stove": "Kitchen", "burners": "左灶, Right"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    assert result["data"]["burners"]["zuo_zao"]["relay"] == {
        "type": "miio", "host": left.host, "token": TOKEN, "protocol": "miot"}
    assert result["data"]["burners"]["right"]["wiring"] == "normally_open"
    assert result["options"] == {"aliases": {"zuo_zao": ["左灶"], "right": ["Right"]}}
    assert result["result"].unique_id == f"miio {left.host} (siid 2 piid 1)"
    # The stove's own id (device and entity ids hang on it), no relay's address.
    assert re.fullmatch("[0-9a-f]{32}", result["data"]["stove_id"])
    assert result["result"].minor_version == 2
    await hass.async_block_till_done()
    # Nothing was switched by the flow: the burners still burn.
    assert left.lit and right.lit
    # The entities show the names as typed; their ids and the services use the keys.
    assert hass.states.get("button.kitchen_zuo_zao_shut_off_now").name == "Kitchen 左灶 shut off now"
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["左灶"]}, blocking=True)
    assert not left.lit and right.lit


@pytest.mark.parametrize(("typed", "key"), [
    ("Back left", "back_left"), ("1号灶", "burner_2"), ("left", "burner_2"), ("Ωmega", "omega"),
])
def test_a_burner_key_is_ascii_and_free(typed: str, key: str) -> None:
    from custom_components.gasstove.config_flow import burner_key

    assert burner_key(typed, {"left", "burner_1"}) == key


async def test_a_name_already_taken_or_meaning_all_is_refused(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": "Left", "host": left.host, "token": TOKEN})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})
    for typed, error in (("left", "duplicate_burner"), ("全部", "invalid_burner"), ("  ", "invalid_burner")):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**MIIO_INPUT, "burner": typed, "host": right.host, "token": TOKEN})
        assert result["errors"] == {"burner": error}, typed


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({"host": DEAD_HOST, "token": TOKEN}, {"base": "cannot_connect"}),
        # The relay rejects the token: said on the token's field, not at the top of the form.
        ({"token": "ab" * 16}, {"token": "invalid_auth"}),
        ({"token": "not-a-token"}, {"token": "invalid_token"}),
        ({"host": "bad host!"}, {"host": "invalid_host"}),
        ({"burner": "all"}, {"burner": "invalid_burner"}),
    ],
)
async def test_miio_errors(hass: HomeAssistant, miio_relay: Any, user_input: dict[str, Any],
                           errors: dict[str, str]) -> None:
    left = miio_relay("left")
    result = await _to_miio(hass)
    typed = {**MIIO_INPUT, "host": left.host, "token": TOKEN, "advanced": {"protocol": "miot"},
             **user_input}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == errors
    # The form keeps everything that was typed, the token too (shown masked), to be corrected.
    assert _suggested(result) == typed
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    assert result["type"] == FlowResultType.MENU


async def test_a_legacy_plug_is_chosen_in_the_advanced_section(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left", protocol="legacy")
    result = await _to_miio(hass)
    # "MIoT property (siid 2, piid 1)" is jargon: it waits in a collapsed section.
    section = dict(result["data_schema"].schema)["advanced"]
    assert section.options == {"collapsed": True}
    assert {str(k): k.default() for k in section.schema.schema} == {"protocol": "miot"}
    assert {str(k) for k in result["data_schema"].schema} == {
        "burner", "wiring", "cut_seconds", "host", "token", "advanced"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN,
                            "advanced": {"protocol": "legacy"}})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["data"]["burners"]["left"]["relay"]["protocol"] == "legacy"
    await hass.async_block_till_done()


async def test_same_relay_twice_in_one_flow(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    assert result["errors"] == {"burner": "duplicate_burner"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": "right", "host": left.host, "token": TOKEN})
    assert result["errors"] == {"base": "duplicate_relay"}


async def test_already_configured(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    MockConfigEntry(domain=DOMAIN, title="Old", unique_id="x",
                    data=entry_data({"left": miio_burner(left.host)})).add_to_hass(hass)
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    assert result["errors"] == {"base": "already_configured"}


async def test_unique_id_abort(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    MockConfigEntry(domain=DOMAIN, title="Old", unique_id=f"miio {left.host} (siid 2 piid 1)",
                    data=entry_data({"right": miio_burner("127.0.0.250")})).add_to_hass(hass)
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_mqtt_needs_mqtt_integration(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "K"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt"})
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == {"base": "mqtt_not_configured"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert (result["type"], result["step_id"]) == (FlowResultType.MENU, "relay_type")


async def test_choosing_mqtt_without_mqtt_keeps_the_burners_entered(hass: HomeAssistant,
                                                                   miio_relay: Any) -> None:
    left = miio_relay("left")
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": "Left", "host": left.host, "token": TOKEN})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt"})
    # Was an abort: the flow and the burner typed in were gone.
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == {"base": "mqtt_not_configured"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert (result["type"], result["step_id"]) == (FlowResultType.MENU, "next")
    assert result["description_placeholders"]["burners"] == "Left"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert list(result["data"]["burners"]) == ["left"]
    await hass.async_block_till_done()


# mqtt_mock's fake socket is never closed, so MQTT's 1 s housekeeping timer outlives
# every test that uses it (the harness itself lets HA core's MQTT tests linger).
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_mqtt_burner(hass: HomeAssistant, mqtt_mock: Any, expected_lingering_timers: bool) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "K"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt"})
    assert result["step_id"] == "mqtt"
    base = {"burner": "left", "wiring": "normally_closed", "cut_seconds": 3, "dialect": "tasmota"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {**base, "topic": "a/+"})
    assert result["errors"] == {"topic": "invalid_topic"}
    _assert_labelled(result, "config")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**base, "topic": "stove_left", "channel": 1})
    # Not set up: mqtt_mock loops nothing back, so no relay would ever answer (test_mqtt.py
    # sets MQTT burners up on a real broker).
    with patch("custom_components.gasstove.async_setup_entry", return_value=True), \
            patch("custom_components.gasstove.async_unload_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "finish"})
        # Unloaded here: the harness (HA 2025) unloads every loaded entry after the test.
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert result["data"]["burners"]["left"]["relay"] == {
        "type": "mqtt", "dialect": "tasmota", "topic": "stove_left", "channel": 1}


def _dialects_offered(result: Any) -> list[tuple[str, str]]:
    """The dialect menu of the MQTT step: (value, label) in order."""
    menu = result["data_schema"].schema["dialect"]
    return [(o["value"], o["label"]) for o in menu.config["options"]]


@pytest.mark.parametrize("expected_lingering_timers", [True])  # mqtt_mock: see test_mqtt_burner
async def test_mqtt_form_offers_the_dialects_the_library_registers(
        hass: HomeAssistant, mqtt_mock: Any, expected_lingering_timers: bool) -> None:
    """The menu follows gasstove's dialect registry: every dialect addressed by one topic,
    titled by its class; one added to the library is offered with no change here."""

    @dataclass(frozen=True)
    class Toy(Tasmota):
        name: ClassVar[str] = "toy"
        title: ClassVar[str] = "Toy relay"

    async def mqtt_step() -> Any:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "K"})
        return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt"})

    result = await mqtt_step()
    assert _dialects_offered(result) == [
        ("tasmota", "Tasmota"), ("shelly", "Shelly Gen1"), ("shelly_rpc", "Shelly Gen2+"),
        ("zigbee2mqtt", "Zigbee2MQTT"), ("esphome", "ESPHome")]
    assert next(k for k in result["data_schema"].schema if k == "dialect").default() == "tasmota"
    with pytest.MonkeyPatch.context() as registered:
        registered.setitem(REGISTRY, "toy", Toy)
        result = await mqtt_step()
        assert _dialects_offered(result)[-1] == ("toy", "Toy relay")
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {
            "burner": "left", "wiring": "normally_closed", "cut_seconds": 3, "dialect": "toy",
            "topic": "stove_left"})
        assert result["step_id"] == "next", result.get("errors")
        assert hass.config_entries.flow.async_abort(result["flow_id"]) is None


async def test_options_flow(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u", data=entry_data(
        {"left": miio_burner(left.host), "right": miio_burner(right.host)}),
        options={"aliases": {"right": ["右灶", "front"]}})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert result["description_placeholders"] == {"burners": "Left, 右灶"}
    _assert_labelled(result, "options")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"longest_timer_minutes": 60})
    assert (result["step_id"], result["description_placeholders"]) == (
        "burner", {"burner": "Left", "key": "left"})
    assert _defaults(result) == {"name": "Left", "cut_seconds": 1.0, "aliases": ""}
    _assert_labelled(result, "options")
    typed = {"name": "左灶", "cut_seconds": 4, "aliases": "all"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], typed)
    assert result["errors"] == {"aliases": "invalid_aliases"}
    assert _suggested(result) == typed  # what was typed stays, to be corrected
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": " ", "cut_seconds": 4, "aliases": ""})
    assert result["errors"] == {"name": "invalid_burner"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Right", "cut_seconds": 4, "aliases": ""})
    assert result["errors"] == {"name": "duplicate_burner"}  # on the name, not on the aliases
    # "front" moves from right to left: right's old aliases do not count before its own form.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "左灶", "cut_seconds": 4, "aliases": "左边, left burner, front"})
    # Its flame form is titled by the name just given.
    assert (result["step_id"], result["description_placeholders"]) == ("flame", {"burner": "左灶"})
    _assert_labelled(result, "options")
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    # The title names the burner as it is shown, never its key ("Burner right").
    assert result["description_placeholders"] == {"burner": "右灶", "key": "right"}
    assert _defaults(result) == {"name": "右灶", "cut_seconds": 1.0, "aliases": "front"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Right", "cut_seconds": 2, "aliases": ""})
    assert result["step_id"] == "flame"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {"cut_seconds": {"left": 4.0, "right": 2.0},
                             "aliases": {"left": ["左灶", "左边", "left burner", "front"], "right": []},
                             "flame": {"left": {}, "right": {}}, "max_burn": {"left": 0, "right": 0},
                             "longest_timer_minutes": 60,
                             # The stove guard's defaults: no inputs, 10 min, warned 60 s ahead.
                             "away_after_minutes": 10, "warn_before_seconds": 60,
                             "hazard_entities": [], "guard_notify": False}
    coordinator = entry.runtime_data  # reloaded with the new options
    assert coordinator.config.burners["left"].cut_seconds == 4.0
    assert coordinator.resolve(["左边"]) == coordinator.resolve(["front"]) == ["left"]
    assert coordinator.config.display_name("left") == "左灶"
    # Opened again, the forms show what was saved.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _defaults(result) == {"longest_timer_minutes": 60, "away_after_minutes": 10,
                                 "warn_before_seconds": 60, "guard_notify": False}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"longest_timer_minutes": 0})
    assert _defaults(result) == {"name": "左灶", "cut_seconds": 4.0, "aliases": "左边, left burner, front"}


TRANSLATIONS = Path(__file__).parents[1] / "custom_components/gasstove/translations"


def _fields(schema: Any) -> dict[str, Any]:
    return {str(key): value for key, value in schema.schema.items()}


def _assert_labelled(result: Any, section: str) -> None:
    """Every field of the form has a label and a help text in every language (those of a
    collapsed section under its ``sections`` key): no raw keys on screen, no field unexplained."""
    for path in TRANSLATIONS.glob("*.json"):
        step = json.loads(path.read_text())[section]["step"][result["step_id"]]
        for name, value in _fields(result["data_schema"]).items():
            texts = step
            if isinstance(value, data_entry_flow.section):
                texts = step["sections"][name]
                assert texts["name"], (path.name, name)
                names = set(_fields(value.schema))
            else:
                names = {name}
            assert names <= set(texts["data"]), (path.name, names - set(texts["data"]))
            helped = set(texts["data_description"])
            assert names <= helped, (path.name, names - helped)


def _defaults(result: Any) -> dict[str, Any]:
    return {str(key): key.default() for key in result["data_schema"].schema
            if not isinstance(key.default, vol.Undefined)}


def _suggested(result: Any) -> dict[str, Any]:
    """What the form shows filled in: the values suggested after an error."""
    shown: dict[str, Any] = {}
    for key, value in result["data_schema"].schema.items():
        if isinstance(value, data_entry_flow.section):
            shown[str(key)] = {str(k): (k.description or {}).get("suggested_value")
                               for k in value.schema.schema}
        elif (key.description or {}).get("suggested_value") is not None:
            shown[str(key)] = key.description["suggested_value"]
    return shown


async def test_the_flow_speaks_chinese(hass: HomeAssistant, miio_relay: Any) -> None:
    hass.config.language = "zh-Hans"
    left, right = miio_relay("left"), miio_relay("right")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert _defaults(result) == {"name": "燃气灶"}  # was "Gas stove" in every language
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": ""})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})
    for name, relay in (("左灶", left), ("右灶", right)):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**MIIO_INPUT, "burner": name, "host": relay.host, "token": TOKEN})
        if name == "左灶":
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"next_step_id": "miio"})
    assert result["description_placeholders"] == {"stove": "燃气灶", "burners": "左灶、右灶"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["title"] == "燃气灶"
    assert list(result["data"]["burners"]) == ["zuo_zao", "you_zao"]
    await hass.async_block_till_done()


async def test_reconfigure(hass: HomeAssistant, miio_relay: Any) -> None:
    old, new = miio_relay("left"), miio_relay("left")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data({"left": miio_burner(old.host)}),
                            options={"aliases": {"left": ["左灶"]}})
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id})
    assert result["step_id"] == "reconfigure"
    _assert_labelled(result, "config")
    burner = _fields(result["data_schema"])["burner"]
    assert burner.config["options"] == [{"value": "left", "label": "左灶"}]  # not "left"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"burner": "left", "host": DEAD_HOST, "token": TOKEN})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"burner": "left", "host": new.host, "token": TOKEN})
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["burners"]["left"]["relay"]["host"] == new.host


async def test_reconfigure_errors(hass: HomeAssistant, miio_relay: Any) -> None:
    left, other = miio_relay("left"), miio_relay("left")
    MockConfigEntry(domain=DOMAIN, title="Other", unique_id="o",
                    data=entry_data({"left": miio_burner(other.host)})).add_to_hass(hass)
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data({"left": miio_burner(left.host)}))
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"burner": "left", "host": left.host, "token": "not-a-token"})
    assert result["errors"] == {"token": "invalid_token"}
    typed = {"burner": "left", "host": left.host, "token": "ab" * 16}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    assert result["errors"] == {"token": "invalid_auth"}
    assert _suggested(result) == typed
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"burner": "left", "host": other.host, "token": TOKEN})
    assert result["errors"] == {"base": "already_configured"}


async def test_reconfigure_needs_a_miio_relay(hass: HomeAssistant) -> None:
    mqtt_only = {"wiring": "normally_closed", "cut_seconds": 1,
                 "relay": {"type": "mqtt", "dialect": "tasmota", "topic": "stove"}}
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data({"left": mqtt_only}))
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id})
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "nothing_to_reconfigure"


def test_an_unexpected_config_error_is_reported_for_the_whole_form() -> None:
    # The form's selectors keep wiring out of reach of a typo; the library would still refuse it.
    from custom_components.gasstove.config_flow import _field_error
    from pydantic import ValidationError

    from gasstove.domain.config import StoveConfig

    with pytest.raises(ValidationError) as caught:
        StoveConfig.model_validate({"burners": {"left": {**miio_burner("127.0.0.2"),
                                                         "wiring": "sideways"}}})
    assert _field_error(caught.value) == {"base": "invalid_config"}


def _frontend_initial_data(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """The data HA's frontend starts a form with (frontend 20250411,
    ``computeInitialHaFormData``): a field's suggested value, else its default;
    a required section without either gets its own fields' defaults."""
    data: dict[str, Any] = {}
    for field in schema:
        suggested = (field.get("description") or {}).get("suggested_value")
        if suggested is not None:
            data[field["name"]] = suggested
        elif "default" in field:
            data[field["name"]] = field["default"]
        elif field.get("type") == "expandable" and field.get("required"):
            data[field["name"]] = _frontend_initial_data(field["schema"])
    return data


def _frontend_would_send(schema: list[dict[str, Any]], data: dict[str, Any]) -> bool:
    """step-flow-form's ``_submitStep`` check: otherwise it shows "Not all required fields
    are filled in." and sends nothing. It looks inside a required section too."""
    return all(
        (not field.get("required") or data.get(field["name"]) not in ("", None))
        and (field.get("type") != "expandable"
             or (not field.get("required") and field["name"] not in data)
             or _frontend_would_send(field["schema"], data[field["name"]]))
        for field in schema)


async def test_the_miio_form_is_sent_as_the_frontend_shows_it(hass: HomeAssistant) -> None:
    """A person fills the visible fields and submits, the Advanced section left closed:
    the frontend must send the form (seen in Chromium: "Not all required fields are
    filled in." while the section's default lacked its protocol)."""
    import voluptuous_serialize
    from homeassistant.helpers import config_validation as cv

    result = await _to_miio(hass)
    schema = voluptuous_serialize.convert(result["data_schema"], custom_serializer=cv.custom_serializer)
    typed = {**_frontend_initial_data(schema), "burner": "Left", "host": "127.0.0.2", "token": TOKEN}
    assert _frontend_would_send(schema, typed), typed
