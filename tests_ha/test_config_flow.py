"""Config flow: every step, error and abort, against simulated relays over UDP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import DEAD_HOST, TOKEN, entry_data, miio_burner

MIIO_INPUT = {"burner": "left", "wiring": "normally_closed", "cut_seconds": 2, "protocol": "miot"}


async def _to_miio(hass: HomeAssistant, name: str = "Kitchen") -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] == FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": name})
    assert result["type"] == FlowResultType.MENU
    assert result["menu_options"] == ["miio", "mqtt"]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})


async def test_miio_two_burners(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right", wiring="normally_open")
    result = await _to_miio(hass)
    assert result["step_id"] == "miio"
    _assert_labelled(result, "config")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN.upper()})
    assert result["type"] == FlowResultType.MENU
    assert result["step_id"] == "next"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "miio"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "burner": "right", "wiring": "normally_open",
                            "host": right.host, "token": TOKEN})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    assert result["data"]["burners"]["left"]["relay"] == {
        "type": "miio", "host": left.host, "token": TOKEN, "protocol": "miot"}
    assert result["data"]["burners"]["right"]["wiring"] == "normally_open"
    assert result["result"].unique_id == f"miio {left.host} (siid 2 piid 1)"
    await hass.async_block_till_done()
    # Nothing was switched by the flow: the burners still burn.
    assert left.lit and right.lit


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({"host": DEAD_HOST, "token": TOKEN}, {"base": "cannot_connect"}),
        ({"token": "ab" * 16}, {"base": "invalid_auth"}),
        ({"token": "not-a-token"}, {"token": "invalid_token"}),
        ({"host": "bad host!"}, {"host": "invalid_host"}),
        ({"burner": "Left Burner"}, {"burner": "invalid_burner"}),
    ],
)
async def test_miio_errors(hass: HomeAssistant, miio_relay: Any, user_input: dict[str, Any],
                           errors: dict[str, str]) -> None:
    left = miio_relay("left")
    result = await _to_miio(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN, **user_input})
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == errors
    # The form keeps what was typed, except the token (a secret is never echoed back).
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MIIO_INPUT, "host": left.host, "token": TOKEN})
    assert result["type"] == FlowResultType.MENU


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
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


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


async def test_options_flow(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u", data=entry_data(
        {"left": miio_burner(left.host), "right": miio_burner(right.host)}),
        options={"aliases": {"right": ["front"]}})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    _assert_labelled(result, "options")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"max_burn_minutes": 60})
    assert (result["step_id"], result["description_placeholders"]) == ("burner", {"burner": "left"})
    _assert_labelled(result, "options")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 4, "aliases": "all"})
    assert result["errors"] == {"aliases": "invalid_aliases"}
    # "front" moves from right to left: right's old aliases do not count before its own form.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 4, "aliases": "左边, left burner, front"})
    assert result["description_placeholders"] == {"burner": "right"}
    assert _defaults(result) == {"cut_seconds": 1.0, "aliases": "front"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 2, "aliases": ""})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {"cut_seconds": {"left": 4.0, "right": 2.0},
                             "aliases": {"left": ["左边", "left burner", "front"], "right": []},
                             "max_burn_minutes": 60}
    coordinator = hass.data[DOMAIN][entry.entry_id]  # reloaded with the new options
    assert coordinator.config.burners["left"].cut_seconds == 4.0
    assert coordinator.resolve(["左边"]) == coordinator.resolve(["front"]) == ["left"]
    # Opened again, the forms show what was saved.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _defaults(result) == {"max_burn_minutes": 60}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"max_burn_minutes": 0})
    assert _defaults(result) == {"cut_seconds": 4.0, "aliases": "左边, left burner, front"}


TRANSLATIONS = Path(__file__).parents[1] / "custom_components/gasstove/translations"


def _assert_labelled(result: Any, section: str) -> None:
    """Every field of the form has a label in every language: no raw keys on screen."""
    fields = {str(key) for key in result["data_schema"].schema}
    for path in TRANSLATIONS.glob("*.json"):
        labels = json.loads(path.read_text())[section]["step"][result["step_id"]]["data"]
        assert fields <= set(labels), (path.name, fields - set(labels))


def _defaults(result: Any) -> dict[str, Any]:
    return {str(key): key.default() for key in result["data_schema"].schema}


async def test_reconfigure(hass: HomeAssistant, miio_relay: Any) -> None:
    old, new = miio_relay("left"), miio_relay("left")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data({"left": miio_burner(old.host)}))
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id})
    assert result["step_id"] == "reconfigure"
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
