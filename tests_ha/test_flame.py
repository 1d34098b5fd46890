"""Flame inputs and the maximum burn time in Home Assistant, as the daemon means them.

The relay is the simulated miio device on real UDP with a burner behind it. The
flame input is a stand-in entity whose state the test writes from the burner's
physics (``_sense``): a binary sensor (on = lit) or a temperature sensor near
the flame. Home Assistant's clock is run ahead with ``async_fire_time_changed``;
only the relay's own round trips run on real time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import voluptuous as vol
from custom_components.gasstove.const import DOMAIN
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from .conftest import SimRelay, entry_data, miio_burner

FLAME = "binary_sensor.left_flame"
PROBE = "sensor.left_pan_temperature"


async def _setup(hass: HomeAssistant, relay: SimRelay, *, flame: dict[str, Any],
                 max_burn: int) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(relay.host)}),
                            options={"flame": {"left": flame}, "max_burn": {"left": max_burn}})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _sense(hass: HomeAssistant, relay: SimRelay) -> None:
    """The binary flame sensor reports what the burner physically does."""
    hass.states.async_set(FLAME, "on" if relay.lit else "off")


class Clock:
    """Home Assistant's clock run ahead: each step from where the last one left it.

    With ``freezer`` the wall clock moves too, so a sensor's state written after a step
    carries that time (its ``last_changed``). Without it only Home Assistant's timers
    run ahead: the wait for a silent relay's deadline needs the real clock (test_timers).
    """

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory | None = None) -> None:
        self.hass = hass
        self.freezer = freezer
        self.start = dt_util.utcnow()
        self.ahead = 0.0

    async def advance(self, seconds: float) -> None:
        self.ahead += seconds
        if self.freezer is not None:
            self.freezer.tick(timedelta(seconds=seconds))
            async_fire_time_changed(self.hass)
        else:
            async_fire_time_changed(self.hass, self.start + timedelta(seconds=self.ahead))
        await self.hass.async_block_till_done()

    async def sensor(self, entity_id: str, state: str) -> None:
        assert self.freezer is not None, "a state's time needs the frozen clock"
        self.hass.states.async_set(entity_id, state)
        await self.hass.async_block_till_done()


def _coordinator(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    return entry.runtime_data


async def test_a_burner_lit_for_its_maximum_burn_time_is_shut_off(
        hass: HomeAssistant, miio_relay: Any,
        freezer: FrozenDateTimeFactory) -> None:
    left = miio_relay("left")
    clock = Clock(hass, freezer)
    _sense(hass, left)  # lit before Home Assistant looks: counted from the sensor's change
    entry = await _setup(hass, left, flame={"flame_entity": FLAME}, max_burn=30)
    assert _coordinator(hass, entry).flames.lit["left"] is True
    done = async_capture_events(hass, "gasstove_shut_off")
    await clock.advance(29 * 60)
    assert left.lit and done == []
    await clock.advance(60 + 1)
    assert not left.lit  # the valve dropped
    assert [e.data["source"] for e in done] == ["max_burn"]
    _sense(hass, left)
    await hass.async_block_till_done()
    assert _coordinator(hass, entry).flames.lit["left"] is False


async def test_a_flame_out_before_the_limit_ends_the_count_and_a_relight_starts_it_again(
        hass: HomeAssistant, miio_relay: Any, freezer: FrozenDateTimeFactory) -> None:
    left = miio_relay("left")
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "off")
    await _setup(hass, left, flame={"flame_entity": FLAME}, max_burn=30)
    done = async_capture_events(hass, "gasstove_shut_off")
    await clock.sensor(FLAME, "on")
    await clock.advance(20 * 60)
    await clock.sensor(FLAME, "off")  # the cook turned it off
    await clock.advance(31 * 60)
    assert done == [] and left.lit
    await clock.sensor(FLAME, "on")  # lit again: a new count from now, not from before
    await clock.advance(29 * 60)
    assert done == []
    await clock.advance(61)
    assert [e.data["source"] for e in done] == ["max_burn"] and not left.lit


async def test_an_unavailable_flame_input_does_not_stop_the_count(
        hass: HomeAssistant, miio_relay: Any,
        freezer: FrozenDateTimeFactory) -> None:
    left = miio_relay("left")
    clock = Clock(hass, freezer)
    _sense(hass, left)
    entry = await _setup(hass, left, flame={"flame_entity": FLAME}, max_burn=30)
    hass.states.async_set(FLAME, "unavailable")  # the sensor dropped off the network
    await hass.async_block_till_done()
    assert _coordinator(hass, entry).flames.lit["left"] is True
    await clock.advance(30 * 60 + 1)
    assert not left.lit


async def test_a_temperature_sensor_with_a_threshold(
        hass: HomeAssistant, miio_relay: Any, freezer: FrozenDateTimeFactory) -> None:
    left = miio_relay("left")
    clock = Clock(hass, freezer)
    hass.states.async_set(PROBE, "24.5")
    entry = await _setup(hass, left, flame={"flame_entity": PROBE, "flame_lit_at": 80.0}, max_burn=30)
    flames = _coordinator(hass, entry).flames
    assert flames.lit["left"] is False
    await clock.sensor(PROBE, "112")
    assert flames.lit["left"] is True
    await clock.advance(20 * 60)
    # Hovering just under the threshold is not "out": the count is not restarted.
    await clock.sensor(PROBE, "77.5")
    await clock.sensor(PROBE, "81")
    assert flames.lit["left"] is True
    await clock.advance(10 * 60 + 1)
    assert not left.lit


async def test_the_shut_off_is_retried_as_a_timers_is(hass: HomeAssistant, miio_relay: Any,
        freezer: FrozenDateTimeFactory) -> None:
    left = miio_relay("left")
    clock = Clock(hass, freezer)
    _sense(hass, left)
    await _setup(hass, left, flame={"flame_entity": FLAME}, max_burn=30)
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    done = async_capture_events(hass, "gasstove_shut_off")
    left.device.settings.loss = 1.0  # the relay's Wi-Fi is gone
    await clock.advance(30 * 60 + 1)
    assert [(e.data["source"], e.data.get("retry_in_seconds")) for e in failed] == [("max_burn", 5)]
    await clock.advance(5.1)
    assert [e.data.get("retry_in_seconds") for e in failed] == [5, 15]
    left.device.settings.loss = 0.0  # back
    await clock.advance(15.1)
    assert len(done) == 1 and not left.lit


# -- options flow ------------------------------------------------------------------
async def _to_flame_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"longest_timer_minutes": 0})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 1, "aliases": ""})
    assert result["step_id"] == "flame"
    return result


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({"flame_entity": PROBE}, {"flame_lit_at": "flame_lit_at_needed"}),
        ({"flame_entity": FLAME, "flame_lit_at": 80}, {"flame_lit_at": "flame_lit_at_binary"}),
        ({"max_burn": 30}, {"max_burn": "max_burn_needs_flame"}),
        ({"flame_entity": PROBE, "flame_lit_at": 60, "flame_out_below": 70},
         {"flame_out_below": "flame_out_below_above"}),
        ({"flame_entity": FLAME, "flame_out_below": 70}, {"flame_lit_at": "flame_lit_at_binary"}),
    ],
)
async def test_options_refuse_a_flame_input_without_meaning(
        hass: HomeAssistant, miio_relay: Any, user_input: dict[str, Any], errors: dict[str, str]) -> None:
    left = miio_relay("left")
    hass.states.async_set(FLAME, "off")
    hass.states.async_set(PROBE, "20")
    entry = await _setup(hass, left, flame={}, max_burn=0)
    result = await _to_flame_form(hass, entry)
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["errors"] == errors


async def test_options_save_a_flame_input_and_a_maximum_burn_time(
        hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    hass.states.async_set(PROBE, "20")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(left.host)}),
                            options={"max_burn_minutes": 45})  # an entry from before the rename
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {str(k): k.default() for k in result["data_schema"].schema
                if not isinstance(k.default, vol.Undefined)}
    assert defaults["longest_timer_minutes"] == 45
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"longest_timer_minutes": 45})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 1, "aliases": ""})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"flame_entity": PROBE, "flame_lit_at": 80, "max_burn": 40})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # Out again 5 degrees below, as entries saved before "out below" read it.
    assert entry.options["flame"] == {"left": {"flame_entity": PROBE, "flame_lit_at": 80.0,
                                               "flame_out_below": 75.0}}
    assert entry.options["max_burn"] == {"left": 40}
    assert entry.options["longest_timer_minutes"] == 45 and "max_burn_minutes" not in entry.options
    flames = _coordinator(hass, entry).flames  # reloaded with them
    assert flames.max_burn == {"left": 2400.0} and flames.lit["left"] is False
