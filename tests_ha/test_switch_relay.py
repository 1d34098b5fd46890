"""A switch entity Home Assistant already has as a burner's relay (issue 15 item 4).

The stand-in is a real ``switch`` entity of a test integration, driven by Home
Assistant's own ``switch.turn_on``/``turn_off`` services (so contexts flow as
they do for ZHA, Z-Wave or ESPHome). Behind it sits the library's simulated
burner: a command reaches the "device" after ``delay`` seconds of real time (a
Zigbee/Z-Wave round trip is 0.1-0.5 s), which opens or closes the burner's
thermocouple loop, so "the flame went out" is the model's physics. Then the
device reports its state, as a device with feedback does, or not:

* ``reports=False``: the device switches but never says so (a silent device);
* ``repeats=False``: the device (or its integration) reports changes only: a
  command that changes nothing is answered by nothing (Home Assistant's MQTT
  switch and ESPHome drop an unchanged state; ZHA, Tasmota and polled
  entities write it again: ``state_reported``);
* ``assumed=True``: the entity writes the state it was asked for at once and
  flags ``assumed_state`` (template or optimistic MQTT switches do this);
* ``vanish=True``: the device drops off the network when commanded
  (the entity becomes unavailable mid-cut).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant import config_entries
from homeassistant.components.switch import SwitchEntity
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, CoreState, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockPlatform,
    MockUser,
    async_capture_events,
    async_fire_time_changed,
    mock_platform,
)

from gasstove.adapters.burner_guard import BurnerRecord, FileBurnerGuard, Pulse
from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner

from .conftest import entry_data

DELAY_S = 0.2  #: the device's report after a command
DEADLINE_S = 1.0  #: entry_data's
RELAY = "switch.stove_relay_left"
LOCK = "lock.kitchen_left_lock"
BURNER = "sensor.kitchen_left_burner"


class SimSwitch(SwitchEntity):
    """A relay with a burner behind it (see the module docstring)."""

    _attr_should_poll = False

    def __init__(self, wiring: Wiring = Wiring.NORMALLY_CLOSED, *, delay: float = DELAY_S,
                 reports: bool = True, repeats: bool = True, assumed: bool = False) -> None:
        self._attr_name = "Stove relay left"
        self._attr_unique_id = "stove-relay-left"
        self.wiring = wiring
        self.delay = delay
        self.reports = reports
        self.repeats = repeats
        self.vanish = False
        self._attr_assumed_state = assumed
        self.clock = [0.0]
        self.burner = Burner("left", clock=lambda: self.clock[0])
        self.burner.push_and_turn()
        self.clock[0] += 5
        self.burner.release()
        self.energised = wiring is Wiring.NORMALLY_OPEN  # at rest: the loop closed
        self.burner.set_relay(self.energised, wiring)
        self._attr_is_on = self.energised
        self.commands: list[bool] = []

    async def async_turn_on(self, **kwargs: Any) -> None:
        self._command(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        self._command(False)

    def _command(self, on: bool) -> None:
        self.commands.append(on)
        if self._attr_assumed_state:  # optimistic: "done", before the device did anything
            self._attr_is_on = on
            self.async_write_ha_state()
        self.hass.loop.call_later(self.delay, self._device_switched, on)

    @callback
    def _device_switched(self, on: bool) -> None:
        if self.vanish:
            self._attr_available = False
            self.async_write_ha_state()
            return
        changed = on != self.energised
        self.energised = on
        self.burner.set_relay(on, self.wiring)
        if self.reports and (changed or self.repeats) and not self._attr_assumed_state:
            self._attr_is_on = on
            self.async_write_ha_state()

    def report(self) -> None:
        """The device says what it is (e.g. a periodic report)."""
        self._attr_is_on = self.energised
        self.async_write_ha_state()


async def _add_switch(hass: HomeAssistant, switch: SimSwitch | None) -> Any:
    """Set up the test integration's switch platform with ``switch`` (None: none yet);
    returns its ``add_entities``, to add one later."""
    added: list[Any] = []

    async def setup(hass: HomeAssistant, config: Any, add: Any, discovery_info: Any = None) -> None:
        added.append(add)
        if switch is not None:
            add([switch])

    mock_platform(hass, "sim.switch", MockPlatform(async_setup_platform=setup))
    assert await async_setup_component(hass, "switch", {"switch": [{"platform": "sim"}]})
    await hass.async_block_till_done()
    assert switch is None or hass.states.get(RELAY) is not None
    return added[0]


def _burner(wiring: Wiring = Wiring.NORMALLY_CLOSED) -> dict[str, Any]:
    return {"wiring": wiring.value, "cut_seconds": 1.0,
            "relay": {"type": "hass", "entity_id": RELAY}}


async def _setup(hass: HomeAssistant, switch: SimSwitch) -> MockConfigEntry:
    await _add_switch(hass, switch)
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": _burner(switch.wiring)}, deadline=DEADLINE_S))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _shut_off(hass: HomeAssistant) -> None:
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left"}, blocking=True)


async def _failed_shut_off(hass: HomeAssistant) -> tuple[str, float]:
    """The shut-off's error and how long it took to show."""
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    start = time.monotonic()
    with pytest.raises(HomeAssistantError) as err:
        await _shut_off(hass)
    took = time.monotonic() - start
    assert len(failed) == 1
    return str(err.value), took


# -- confirmed cuts -----------------------------------------------------------------
@pytest.mark.parametrize("wiring", list(Wiring))
async def test_a_cut_is_confirmed_by_the_device_and_the_flame_goes_out(
        hass: HomeAssistant, wiring: Wiring) -> None:
    switch = SimSwitch(wiring)
    await _setup(hass, switch)
    assert switch.burner.lit
    done = async_capture_events(hass, "gasstove_shut_off")
    start = time.monotonic()
    await _shut_off(hass)
    took = time.monotonic() - start
    cut = wiring is Wiring.NORMALLY_CLOSED  # NC: energising opens the loop
    assert switch.commands == [cut, not cut]  # the cut, then the restore
    assert not switch.burner.lit  # the valve dropped: physics, not a call count
    assert switch.energised is not cut  # restored: it can be relit by hand
    assert hass.states.get(RELAY).state == ("off" if cut else "on")
    assert len(done) == 1 and "confirmed in" in done[0].data["message"]
    # Two device round trips (cut, restore), nothing waited for beyond them.
    assert 2 * DELAY_S <= took < 2 * DELAY_S + 0.5


# -- what must never count as a confirmation -------------------------------------------
async def test_a_device_that_never_reports_fails_the_shut_off(hass: HomeAssistant) -> None:
    switch = SimSwitch(reports=False)
    await _setup(hass, switch)
    message, took = await _failed_shut_off(hass)
    assert "no state change from Home Assistant switch.stove_relay_left" in message
    assert "may have reached the device" in message
    assert DEADLINE_S <= took < DEADLINE_S + 0.5
    assert switch.commands == [True]  # sent (it did cut); no restore of an unconfirmed cut


async def test_an_assumed_state_switch_never_confirms(hass: HomeAssistant) -> None:
    switch = SimSwitch(assumed=True)
    await _setup(hass, switch)
    message, _ = await _failed_shut_off(hass)
    # The entity wrote "on" at once, under our very context: still not the device's word.
    assert hass.states.get(RELAY).state == "on"
    assert "no feedback (assumed_state)" in message


async def test_a_switch_gone_unavailable_mid_cut_fails_at_once(hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _setup(hass, switch)
    switch.vanish = True
    message, took = await _failed_shut_off(hass)
    assert "switch.stove_relay_left became unavailable" in message
    assert took < DELAY_S + 0.3  # at the event, not at the deadline


async def test_an_unavailable_switch_is_sent_nothing(hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _setup(hass, switch)
    switch._attr_available = False
    switch.async_write_ha_state()
    message, took = await _failed_shut_off(hass)
    assert "is unavailable" in message and "is the device powered" in message
    assert switch.commands == []
    assert took < 0.2


async def test_a_state_written_under_a_context_older_than_our_call_does_not_confirm(
        hass: HomeAssistant) -> None:
    """A stale state replayed after our call (restored, or written by other code under
    an earlier context): the change arrives after our command but is not its answer."""
    switch = SimSwitch(reports=False)
    await _setup(hass, switch)
    old = Context()
    await asyncio.sleep(0.01)  # our call's context is made later than this one
    task = hass.async_create_task(_failed_shut_off(hass))
    await asyncio.sleep(DELAY_S)
    hass.states.async_set(RELAY, "on", dict(hass.states.get(RELAY).attributes), context=old)
    message, _ = await task
    assert hass.states.get(RELAY).context.id == old.id
    assert "shows on, but not as its answer to the command" in message


async def test_a_late_report_under_the_entitys_own_context_confirms(hass: HomeAssistant) -> None:
    """A device slower than the entity's 5 s context window: the report comes under a
    context the entity made after our call (no user, no parent). Shown with a deadline
    of 1 s and a context made fresh by a periodic report."""
    switch = SimSwitch(reports=False)
    await _setup(hass, switch)
    task = hass.async_create_task(_shut_off(hass))
    await asyncio.sleep(DELAY_S + 0.1)
    switch._context = None  # the window has passed
    switch.report()
    switch.reports = True  # and the restore is reported as usual
    await task
    assert not switch.burner.lit


async def test_a_relay_switched_by_hand_shows_at_once(hass: HomeAssistant) -> None:
    """Home Assistant hears the switch change: the burner shows held off without a poll."""
    switch = SimSwitch()
    await _setup(hass, switch)
    assert hass.states.get(BURNER).state == "ready"
    await hass.services.async_call("switch", "turn_on", {"entity_id": RELAY}, blocking=True)
    await asyncio.sleep(DELAY_S + 0.1)
    await hass.async_block_till_done()
    assert hass.states.get(BURNER).state == "left_cutting"


async def test_a_relay_that_reports_the_cut_then_bounces_back_is_not_confirmed(
        hass: HomeAssistant) -> None:
    """The device reported "on" and, before we looked, "off" again (a relay that drops
    out, a second command): its latest word decides, as for MQTT relays."""
    switch = SimSwitch(delay=0)

    async def bounce(**kwargs: Any) -> None:
        switch._attr_is_on = True
        switch.async_write_ha_state()
        switch._attr_is_on = False
        switch.async_write_ha_state()

    switch.async_turn_on = bounce  # type: ignore[method-assign]
    await _setup(hass, switch)
    message, _ = await _failed_shut_off(hass)
    assert "reported on after the command, then off" in message


# -- holds: a relay already cutting ----------------------------------------------------
# A shut-off or a timer on a locked burner, a second lock: our "on" changes nothing,
# so only the device writing its (unchanged) state again after our call can answer.
async def _locked(hass: HomeAssistant, switch: SimSwitch) -> None:
    await _setup(hass, switch)
    await hass.services.async_call(DOMAIN, "lock", {"burners": "left"}, blocking=True)
    assert switch.energised and hass.states.get(LOCK).state == "locked"


async def test_a_hold_is_confirmed_by_the_device_reporting_the_cut_again(
        hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _locked(hass, switch)
    done = async_capture_events(hass, "gasstove_shut_off")
    start = time.monotonic()
    await _shut_off(hass)
    took = time.monotonic() - start
    assert len(done) == 1 and "locked: loop held open (confirmed in" in done[0].data["message"]
    assert DELAY_S <= took < DELAY_S + 0.5  # the device's answer, not the state shown before
    await hass.services.async_call(DOMAIN, "lock", {"burners": "left"}, blocking=True)
    assert switch.commands == [True, True, True]  # lock, hold, hold: never a restore
    assert switch.energised and not switch.burner.lit
    assert hass.states.get(LOCK).state == "locked"


async def test_a_timer_on_a_locked_burner_is_confirmed_once(hass: HomeAssistant) -> None:
    """The timer's cut is a hold: confirmed by the device's report, so it is not retried
    and no failure is announced."""
    switch = SimSwitch()
    await _locked(hass, switch)
    done = async_capture_events(hass, "gasstove_shut_off")
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left", "delay": {"minutes": 10}},
                                   blocking=True)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=10, seconds=1))
    await hass.async_block_till_done()
    for _ in range(20):  # the device's round trip runs on real time
        if done or failed:
            break
        await asyncio.sleep(0.1)
        await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=30))  # any retry due
    await asyncio.sleep(DELAY_S + 0.1)
    await hass.async_block_till_done()
    assert failed == []
    assert len(done) == 1 and done[0].data["source"] == "timer"
    assert switch.commands == [True, True]


async def test_a_hold_by_a_device_that_reports_only_changes_is_not_confirmed(
        hass: HomeAssistant) -> None:
    """The device cuts but says nothing, as an MQTT or ESPHome switch in Home Assistant
    does for a state it already has: the failure says why, and where to read more."""
    switch = SimSwitch(repeats=False)
    await _locked(hass, switch)  # the lock itself changed the state: confirmed
    message, took = await _failed_shut_off(hass)
    assert ("already showed on before the command and wrote no state since" in message
            and "many integrations write only changes" in message)
    assert DEADLINE_S <= took < DEADLINE_S + 0.5
    assert switch.commands == [True, True] and switch.energised


async def test_a_report_from_before_our_call_does_not_confirm_a_hold(
        hass: HomeAssistant, hass_admin_user: MockUser) -> None:
    """Someone switched the relay on (their command, its report) and the device reported
    it again just before our shut-off; then a stale copy of that state is written again
    after our call under its old context: none of these answers our command."""
    switch = SimSwitch(repeats=False)
    await _setup(hass, switch)
    theirs = Context(user_id=hass_admin_user.id)
    await hass.services.async_call("switch", "turn_on", {"entity_id": RELAY}, blocking=True,
                                   context=theirs)
    await asyncio.sleep(DELAY_S + 0.1)
    switch.report()  # a report of the cut, just before our call
    old = Context()
    await asyncio.sleep(0.01)  # our call's context is made later than this one
    task = hass.async_create_task(_failed_shut_off(hass))
    await asyncio.sleep(DELAY_S)
    hass.states.async_set(RELAY, "on", dict(hass.states.get(RELAY).attributes), context=old)
    message, _ = await task
    assert hass.states.get(RELAY).state == "on"
    assert "already showed on before the command" in message


async def test_a_hold_by_a_switch_that_now_assumes_its_state_is_not_confirmed(
        hass: HomeAssistant) -> None:
    """It writes "on" again under our very context, at once: its guess, not the device's."""
    switch = SimSwitch()
    await _locked(hass, switch)
    switch._attr_assumed_state = True
    switch.async_write_ha_state()
    message, _ = await _failed_shut_off(hass)
    assert "no feedback (assumed_state)" in message
    assert switch.commands == [True, True]


# -- lock, timers, restarts ------------------------------------------------------------
async def test_lock_and_unlock(hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _setup(hass, switch)
    await hass.services.async_call(DOMAIN, "lock", {"burners": "left"}, blocking=True)
    assert switch.energised and not switch.burner.lit
    assert hass.states.get(LOCK).state == "locked"
    await hass.services.async_call(DOMAIN, "unlock", {"burners": "left"}, blocking=True)
    assert not switch.energised
    assert hass.states.get(LOCK).state == "unlocked"


async def test_a_timer_cuts_through_the_switch(hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _setup(hass, switch)
    done = async_capture_events(hass, "gasstove_shut_off")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left", "delay": {"minutes": 10}},
                                   blocking=True)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=10, seconds=1))
    await hass.async_block_till_done()
    for _ in range(20):  # the device's round trips run on real time
        if done:
            break
        await asyncio.sleep(0.1)
        await hass.async_block_till_done()
    assert len(done) == 1 and done[0].data["source"] == "timer"
    assert not switch.burner.lit and not switch.energised


async def test_a_pulse_cut_short_by_a_crash_is_restored_on_the_next_start(
        hass: HomeAssistant) -> None:
    switch = SimSwitch()
    entry = await _setup(hass, switch)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # What a Home Assistant killed mid-pulse leaves: the relay cutting, the pulse recorded.
    await hass.services.async_call("switch", "turn_on", {"entity_id": RELAY}, blocking=True)
    await asyncio.sleep(DELAY_S + 0.1)
    records = FileBurnerGuard(Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.burners")))
    async with records.hold("left", wait=1) as hold:
        hold.write(BurnerRecord(pulse=Pulse(time.time() - 60, "pid 4242")))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert not switch.energised  # restored: the burner can be relit by hand
    assert records.record("left").pulse is None


async def test_at_start_up_the_restore_waits_for_home_assistant_to_have_started(
        hass: HomeAssistant) -> None:
    """While Home Assistant starts, the switch's own integration may not be set up yet:
    the pulse a crash cut short is restored once it has started, not reported failed."""
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": _burner()}, deadline=DEADLINE_S))
    entry.add_to_hass(hass)
    records = FileBurnerGuard(Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.burners")))
    async with records.hold("left", wait=1) as hold:
        hold.write(BurnerRecord(pulse=Pulse(time.time() - 60, "pid 4242")))
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    hass.set_state(CoreState.not_running)
    add_later = await _add_switch(hass, None)
    assert await hass.config_entries.async_setup(entry.entry_id)  # before the switch exists
    await hass.async_block_till_done()
    switch = SimSwitch()
    switch.energised = True  # the relay the crash left cutting
    switch._attr_is_on = True
    switch.burner.set_relay(True, switch.wiring)
    add_later([switch])
    await hass.async_block_till_done()
    assert records.record("left").pulse is not None
    await hass.async_start()
    await hass.async_block_till_done()
    for _ in range(10):  # the device's round trip runs on real time
        if not switch.energised:
            break
        await asyncio.sleep(0.1)
        await hass.async_block_till_done()
    assert not switch.energised and records.record("left").pulse is None
    assert failed == []


# -- config flow ------------------------------------------------------------------------
HASS_INPUT = {"burner": "left", "wiring": "normally_closed", "cut_seconds": 2}


async def _to_hass_step(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "Kitchen"})
    assert result["type"] == FlowResultType.MENU and "hass" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "hass"})
    assert result["type"] == FlowResultType.FORM and result["step_id"] == "hass"
    return result


async def test_flow_adds_a_burner_with_a_switch_entity(hass: HomeAssistant) -> None:
    switch = SimSwitch()
    await _add_switch(hass, switch)
    result = await _to_hass_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**HASS_INPUT, "entity_id": RELAY})
    assert result["type"] == FlowResultType.MENU and result["step_id"] == "next"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert result["data"]["burners"]["left"]["relay"] == {"type": "hass", "entity_id": RELAY}
    await hass.async_block_till_done()
    assert switch.commands == [] and switch.burner.lit  # the flow switched nothing


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda s: setattr(s, "_attr_assumed_state", True), "entity_assumed_state"),
        (lambda s: setattr(s, "_attr_available", False), "entity_unavailable"),
    ],
)
async def test_flow_refuses_a_switch_that_cannot_confirm(
        hass: HomeAssistant, make: Any, error: str) -> None:
    switch = SimSwitch()
    await _add_switch(hass, switch)
    make(switch)
    switch.async_write_ha_state()
    result = await _to_hass_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**HASS_INPUT, "entity_id": RELAY})
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == {"entity_id": error}


async def test_flow_refuses_a_switch_of_gasstove_itself(hass: HomeAssistant) -> None:
    await _setup(hass, SimSwitch())
    # gasstove has no switch since 1.2; one of a stove not yet migrated (its old lock)
    er.async_get(hass).async_get_or_create("switch", DOMAIN, "old-uid_left_lock",
                                           suggested_object_id="old_left_lock")
    hass.states.async_set("switch.old_left_lock", "off")
    result = await _to_hass_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**HASS_INPUT, "burner": "right", "entity_id": "switch.old_left_lock"})
    assert result["errors"] == {"entity_id": "entity_is_gasstove"}
