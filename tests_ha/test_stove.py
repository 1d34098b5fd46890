"""Entities, services, failures, timers, intents and diagnostics over real UDP to simulated relays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from custom_components.gasstove.const import DOMAIN
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from .conftest import DEAD_HOST, TOKEN, miio_burner, set_up_stove

STORE_KEY = "gasstove.{}.timers"


async def test_entities(hass: HomeAssistant, stove: Any) -> None:
    entry, left, right = stove
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.kitchen_left_burner").state == "ready"
    assert hass.states.get("sensor.kitchen_left_burner").attributes["device_class"] == "enum"
    assert hass.states.get("sensor.kitchen_right_burner").state == "ready"
    assert hass.states.get("lock.kitchen_left_lock").state == "unlocked"
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state == "unknown"
    assert hass.states.get("number.kitchen_left_shut_off_in").state == "0"
    assert hass.states.get("button.kitchen_left_shut_off_now").state == "unknown"
    assert left.lit and right.lit


async def test_button_puts_flame_out(hass: HomeAssistant, stove: Any) -> None:
    _entry, left, right = stove
    events = async_capture_events(hass, "gasstove_shut_off")
    await hass.services.async_call("button", "press", {"entity_id": "button.kitchen_left_shut_off_now"},
                                   blocking=True)
    assert not left.lit  # the simulated valve dropped: the flame is out
    assert right.lit
    assert left.device.energised is False  # and the loop was closed again (relight by hand)
    assert [e.data["burner"] for e in events] == ["left"]
    assert hass.states.get("sensor.kitchen_left_burner").state == "ready"  # can be relit by hand
    assert hass.states.get("sensor.kitchen_left_last_shut_off").state == "confirmed"


async def test_button_and_service_on_normally_open(hass: HomeAssistant, stove: Any) -> None:
    _entry, left, right = stove
    await hass.services.async_call("button", "press", {"entity_id": "button.kitchen_right_shut_off_now"},
                                   blocking=True)
    assert not right.lit and left.lit
    left.burner.push_and_turn()
    left.clock[0] += 5
    left.burner.release()
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["all"]}, blocking=True)
    assert not left.lit


async def test_lock_entity_and_services(hass: HomeAssistant, stove: Any) -> None:
    _entry, left, _right = stove
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.kitchen_left_lock"},
                                   blocking=True)
    assert hass.states.get("lock.kitchen_left_lock").state == "locked"
    assert hass.states.get("sensor.kitchen_left_burner").state == "locked"
    assert not left.lit and left.device.energised is True
    await hass.services.async_call(DOMAIN, "unlock", {"burners": "left"}, blocking=True)
    assert hass.states.get("lock.kitchen_left_lock").state == "unlocked"
    assert left.device.energised is False and not left.lit  # unlocking never relights
    await hass.services.async_call(DOMAIN, "lock", {}, blocking=True)
    assert hass.states.get("lock.kitchen_right_lock").state == "locked"


async def test_unknown_burner(hass: HomeAssistant, stove: Any) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["middle"]}, blocking=True)
    assert err.value.translation_key == "unknown_burner"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(DOMAIN, "shut_off", {"stove": "Garage"}, blocking=True)


async def test_dead_relay_fails_loudly(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    await set_up_stove(hass, {"left": miio_burner(left.host), "dead": miio_burner(DEAD_HOST)})
    # Unknown, not unavailable: HA would silently skip a lock of an unavailable lock.
    assert hass.states.get("lock.kitchen_dead_lock").state == STATE_UNKNOWN
    assert hass.states.get("sensor.kitchen_dead_burner").state == "unreachable"
    assert hass.states.get("sensor.kitchen_left_burner").state == "ready"
    # The button stays usable: an attempt must never be refused by the UI.
    assert hass.states.get("button.kitchen_dead_shut_off_now").state != STATE_UNAVAILABLE
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {}, blocking=True)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "shut_off_failed"
    assert err.value.translation_placeholders["burners"] == "Dead"  # its display name (test_words.py)
    assert TOKEN not in str(err.value)
    assert not left.lit  # the working burner was still cut
    assert [e.data["burner"] for e in failed] == ["dead"]
    notifications = hass.data["persistent_notification"]
    assert any("did NOT confirm" in n["message"] for n in notifications.values())


async def test_delayed_shut_off_and_cancel(hass: HomeAssistant, stove: Any,
                                           freezer: FrozenDateTimeFactory,
                                           hass_storage: dict[str, Any]) -> None:
    entry, left, right = stove
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["left", "right"], "delay": "20m"},
                                   blocking=True)
    due = dt_util.utcnow() + timedelta(minutes=20)
    shown = dt_util.parse_datetime(hass.states.get("sensor.kitchen_left_scheduled_shut_off").state)
    assert shown is not None and abs((shown - due).total_seconds()) < 1
    stored = hass_storage[STORE_KEY.format(entry.entry_id)]["data"]["timers"]
    assert set(stored) == {"left", "right"}
    await hass.services.async_call(DOMAIN, "cancel", {"burners": "right"}, blocking=True)
    assert set(hass_storage[STORE_KEY.format(entry.entry_id)]["data"]["timers"]) == {"left"}
    freezer.tick(timedelta(minutes=19))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert left.lit
    freezer.tick(timedelta(minutes=1, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not left.lit and right.lit
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state == "unknown"
    assert hass_storage[STORE_KEY.format(entry.entry_id)]["data"]["timers"] == {}


async def test_number_sets_timer(hass: HomeAssistant, stove: Any, freezer: FrozenDateTimeFactory) -> None:
    _entry, left, _right = stove
    await hass.services.async_call(
        "number", "set_value", {"entity_id": "number.kitchen_left_shut_off_in", "value": 30},
        blocking=True)
    assert hass.states.get("number.kitchen_left_shut_off_in").state == "30"
    await hass.services.async_call(
        "number", "set_value", {"entity_id": "number.kitchen_left_shut_off_in", "value": 0},
        blocking=True)
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state == "unknown"
    freezer.tick(timedelta(minutes=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert left.lit


async def test_an_entry_from_before_the_rename_keeps_its_longest_timer(
        hass: HomeAssistant, miio_relay: Any) -> None:
    """The longest timer was stored as "max_burn_minutes" (labelled "Maximum burn time")."""
    left = miio_relay("left")
    await set_up_stove(hass, {"left": miio_burner(left.host)}, options={"max_burn_minutes": 60})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {"delay": {"hours": 2}}, blocking=True)
    assert err.value.translation_key == "delay_too_long"
    assert hass.states.get("number.kitchen_left_shut_off_in").attributes["max"] == 60


async def test_timer_survives_restart(hass: HomeAssistant, stove: Any, freezer: FrozenDateTimeFactory,
                                      hass_storage: dict[str, Any]) -> None:
    entry, left, _right = stove
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left", "delay": {"minutes": 20}},
                                   blocking=True)
    # "Restart": unload drops every in-memory timer; the stored one remains.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert STORE_KEY.format(entry.entry_id) in hass_storage
    freezer.tick(timedelta(minutes=5))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state != "unknown"
    freezer.tick(timedelta(minutes=15, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not left.lit


async def test_timer_due_while_down_fires_on_setup(hass: HomeAssistant, miio_relay: Any,
                                                   hass_storage: dict[str, Any]) -> None:
    left = miio_relay("left")
    due = dt_util.utcnow() - timedelta(minutes=7)
    hass_storage[STORE_KEY.format("entry-late")] = {
        "version": 1, "minor_version": 1, "key": STORE_KEY.format("entry-late"),
        "data": {"timers": {"left": {"due": due.isoformat(), "delay_s": 1200}}},
    }
    events = async_capture_events(hass, "gasstove_shut_off")
    await set_up_stove(hass, {"left": miio_burner(left.host)}, entry_id="entry-late")
    await hass.async_block_till_done()
    assert not left.lit
    assert events[0].data["late_seconds"] == pytest.approx(420, abs=5)
    notifications = hass.data["persistent_notification"]
    assert any("late" in n["message"] for n in notifications.values())


async def test_intents(hass: HomeAssistant, stove: Any) -> None:
    _entry, left, right = stove
    # HA loads intent.py as a platform of its intent integration (in every real setup).
    assert await async_setup_component(hass, "intent", {})
    # HA processes the platforms of integrations already loaded in a task of its own.
    await hass.async_block_till_done()
    response = await intent.async_handle(hass, "test", "GasStoveStatus", {}, language="en")
    assert "Left can burn" in response.speech["plain"]["speech"]
    response = await intent.async_handle(hass, "test", "GasStoveShutOff",
                                         {"burner": {"value": "left"}, "delay": {"value": "二十分钟"}},
                                         language="zh-cn")
    assert response.speech["plain"]["speech"] == "好的，Left20分钟后关火。"
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state != "unknown"
    response = await intent.async_handle(hass, "test", "GasStoveCancel", {}, language="en")
    assert "Cancelled" in response.speech["plain"]["speech"]
    response = await intent.async_handle(hass, "test", "GasStoveShutOff",
                                         {"burner": {"value": "right"}}, language="en")
    assert not right.lit and left.lit
    # The library's turn-on guard applies to the matched text too.
    response = await intent.async_handle(hass, "test", "GasStoveShutOff", {}, language="en",
                                         text_input="light the stove")
    assert "nothing was done" in response.speech["plain"]["speech"]
    assert left.lit


async def test_diagnostics_redacted(hass: HomeAssistant, stove: Any, hass_client: Any) -> None:
    entry, _left, _right = stove
    from custom_components.gasstove.diagnostics import async_get_config_entry_diagnostics

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert TOKEN not in str(diagnostics)
    assert diagnostics["entry"]["data"]["burners"]["left"]["relay"]["token"] == "**REDACTED**"
    assert diagnostics["relays"]["left"]["state"] == "resting"


async def test_unload(hass: HomeAssistant, stove: Any) -> None:
    entry, _left, _right = stove
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    await hass.config_entries.async_remove(entry.entry_id)
