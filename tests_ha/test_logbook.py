"""Every shut-off in Home Assistant's logbook, saying how it came about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from custom_components.gasstove.const import DOMAIN
from custom_components.gasstove.logbook import async_describe_events, describe
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from .conftest import entry_data, miio_burner


async def test_a_timer_set_from_assist_reads_so_in_the_logbook(
    hass: HomeAssistant, miio_relay: Any, freezer: FrozenDateTimeFactory,
) -> None:
    left = miio_relay("left")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(left.host)}))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    events = async_capture_events(hass, "gasstove_shut_off")
    assert await async_setup_component(hass, "intent", {})  # loads our intent.py
    # HA processes the platforms of integrations already loaded in a task of its own.
    await hass.async_block_till_done()

    await intent.async_handle(hass, "test", "GasStoveShutOff",
                              {"burner": {"value": "left"}, "delay": {"value": "ten minutes"}},
                              language="en")
    freezer.tick(timedelta(minutes=10, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not left.lit
    await hass.services.async_call("button", "press",
                                   {"entity_id": "button.kitchen_left_shut_off_now"}, blocking=True)

    described: dict[str, Any] = {}
    async_describe_events(hass, lambda domain, name, fn: described.__setitem__(name, fn))
    lines = [described["gasstove_shut_off"](event) for event in events]
    # The stove named, the burner's state sensor linked.
    assert lines == [
        {"name": "Kitchen Left", "message": "shut off by timer, set from Assist",
         "entity_id": "sensor.kitchen_left_burner"},
        {"name": "Kitchen Left", "message": "shut off from its dashboard button",
         "entity_id": "sensor.kitchen_left_burner"},
    ]


def test_failures_and_late_timers_read_plainly() -> None:
    assert describe({"burner": "back_left", "source": "timer", "set_from": "service",
                     "late_seconds": 420}, failed=False) == {
        "name": "Back left burner",  # an event from before display names: its key
        "message": "shut off by timer, set with a service call, 420 s late (Home Assistant was down)",
    }
    assert describe({"burner": "left", "source": "service",
                     "message": "shut-off NOT confirmed: no answer from 10.0.0.9"}, failed=True) == {
        "name": "Left burner",
        "message": "shut-off FAILED by a service call: shut-off NOT confirmed: no answer from 10.0.0.9",
    }
    # A burner is named as its user named it (events since display names carry it).
    assert describe({"burner": "left", "burner_name": "左灶", "source": "button"}, failed=False) == {
        "name": "左灶", "message": "shut off from its dashboard button"}
