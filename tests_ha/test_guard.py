"""The stove guard in Home Assistant (issue 16): presence and hazard inputs, warnings
before every automatic cut, snooze, the hazard lock only a person undoes, a note on every
automatic cut -- the library's Guard driven by Home Assistant's entities and clock.

The relays are simulated miio devices on real UDP with a burner behind each; the inputs
are stand-in entities whose states the test writes. Home Assistant's clock is frozen and
run ahead (``Clock``), never waited for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from custom_components.gasstove import guard
from custom_components.gasstove.const import DOMAIN
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser, async_capture_events

from .conftest import SimRelay, entry_data, miio_burner
from .test_flame import Clock

FLAME = "binary_sensor.left_flame"
RIGHT_FLAME = "binary_sensor.right_flame"
PROBE = "sensor.left_pan_temperature"
PRESENCE = "binary_sensor.kitchen_motion"
SMOKE = "binary_sensor.kitchen_smoke"
CO = "binary_sensor.kitchen_co"
WARNING = "sensor.kitchen_left_shut_off_warning"


async def _setup(hass: HomeAssistant, relays: dict[str, SimRelay], *, flames: dict[str, Any] | None = None,
                 max_burn: dict[str, int] | None = None, **guard: Any) -> MockConfigEntry:
    options = {"flame": flames if flames is not None else {"left": {"flame_entity": FLAME}},
               "max_burn": max_burn or {}, **guard}
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({n: miio_burner(r.host) for n, r in relays.items()}),
                            options=options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _hazard_sensors(hass: HomeAssistant, smoke: str = "off", co: str = "off") -> None:
    hass.states.async_set(SMOKE, smoke, {"device_class": "smoke", "friendly_name": "Kitchen smoke"})
    hass.states.async_set(CO, co, {"device_class": "carbon_monoxide", "friendly_name": "Hall CO"})


def _said(events: list[Any]) -> list[tuple[Any, ...]]:
    return [(e.data["burner"], e.data["reason"], e.data["active"], e.data.get("ended"))
            for e in events]


@pytest.fixture
def left(miio_relay: Any) -> SimRelay:
    relay: SimRelay = miio_relay("left")
    return relay


# -- inactivity ---------------------------------------------------------------------
async def test_a_burner_left_lit_with_nobody_there_is_warned_of_then_shut_off(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "off")
    hass.states.async_set(PRESENCE, "off")
    await _setup(hass, {"left": left}, presence_entity=PRESENCE)
    warnings = async_capture_events(hass, "gasstove_warning")
    notes = async_capture_events(hass, "gasstove_automatic_shut_off")
    await clock.sensor(PRESENCE, "on")  # the cook lights the burner and leaves
    await clock.sensor(FLAME, "on")
    await clock.sensor(PRESENCE, "off")
    await clock.advance(9 * 60 - 1)
    assert warnings == [] and hass.states.get(WARNING).state == "unknown"
    await clock.advance(1)
    assert _said(warnings) == [("left", "inactivity", True, None)]
    assert warnings[0].data["seconds_left"] == 60
    assert warnings[0].data["message"] == \
        "Left burner shuts off in 1 minute: nobody in the kitchen for 10 minutes."
    state = hass.states.get(WARNING)
    cut_at = dt_util.utcnow() + timedelta(seconds=60)
    assert abs(dt_util.parse_datetime(state.state) - cut_at) < timedelta(seconds=1)
    assert state.attributes["reason"] == "inactivity"
    assert state.attributes["message"] == warnings[0].data["message"]
    assert left.lit  # a warning first: nothing cut yet
    await clock.advance(59)
    assert left.lit
    await clock.advance(1)
    assert not left.lit
    assert _said(warnings)[-1] == ("left", "inactivity", False, "shut_off")
    assert [(n.data["burner"], n.data["reason"], n.data["confirmed"], n.data["message"])
            for n in notes] == [("left", "inactivity", True,
                                 "Left burner shut off after 10 minutes with nobody in the kitchen.")]
    assert hass.states.get(WARNING).state == "unknown"
    # Notifications were not asked for (a confirmed cut is noted on the bus and logbook).
    assert persistent_notification._async_get_or_create_notifications(hass) == {}


async def test_someone_in_the_kitchen_holds_it_off_and_the_count_starts_when_they_leave(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set(PRESENCE, "off")
    await _setup(hass, {"left": left}, presence_entity=PRESENCE)
    warnings = async_capture_events(hass, "gasstove_warning")
    await clock.sensor(PRESENCE, "on")
    await clock.advance(30 * 60)
    assert warnings == [] and left.lit
    await clock.sensor(PRESENCE, "off")
    await clock.advance(9 * 60)
    assert _said(warnings) == [("left", "inactivity", True, None)]
    await clock.sensor(PRESENCE, "on")  # back in time: the warning is withdrawn
    assert _said(warnings)[-1] == ("left", "inactivity", False, "present")
    assert warnings[-1].data["message"] == \
        "Left burner: shut-off warning over (someone is in the kitchen)."
    await clock.advance(10 * 60)
    assert left.lit


async def test_a_presence_sensor_that_drops_off_counts_as_nobody_there(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    """A dead sensor must not keep a forgotten burner burning: from when it went
    unavailable the count runs, as if everyone had left."""
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set(PRESENCE, "off")
    await _setup(hass, {"left": left}, presence_entity=PRESENCE)
    await clock.sensor(PRESENCE, "on")
    await clock.advance(5 * 60)
    await clock.sensor(PRESENCE, "unavailable")
    await clock.advance(10 * 60 - 1)
    assert left.lit
    await clock.advance(1)
    assert not left.lit


async def test_someone_there_when_home_assistant_starts_is_not_taken_for_granted(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    """The library's retained rule: a state read at start-up is of unknown age, so a
    presence already "on" is not someone in the kitchen until the sensor says so live."""
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set(PRESENCE, "on")
    await _setup(hass, {"left": left}, presence_entity=PRESENCE)
    await clock.advance(10 * 60)
    assert not left.lit


async def test_a_person_entity_at_home_is_presence(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set("person.cook", "not_home")
    await _setup(hass, {"left": left}, presence_entity="person.cook")
    await clock.sensor("person.cook", "home")
    await clock.advance(20 * 60)
    assert left.lit
    await clock.sensor("person.cook", "Work")  # any other zone is away
    await clock.advance(10 * 60)
    assert not left.lit


# -- maximum burn, timers, warnings off ----------------------------------------------
async def test_the_maximum_burn_is_warned_of_and_a_snooze_cannot_pass_it(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    await _setup(hass, {"left": left}, max_burn={"left": 30})
    warnings = async_capture_events(hass, "gasstove_warning")
    await clock.advance(29 * 60)
    assert _said(warnings) == [("left", "max_burn", True, None)]
    assert warnings[0].data["message"] == \
        "Left burner shuts off in 1 minute: lit for 30 minutes, its maximum burn time."
    # Five more minutes: bounded by the maximum burn, which is already a minute away.
    result = await hass.services.async_call(DOMAIN, "snooze", {"burners": ["left"]},
                                            blocking=True, return_response=True)
    held = result["Kitchen"]["left"]
    assert held["bounded_by_max_burn"] is True
    assert dt_util.parse_datetime(held["until"]) == dt_util.utcnow() + timedelta(minutes=1)
    await clock.advance(60)
    assert not left.lit


async def test_at_its_maximum_burn_a_snooze_is_refused_in_words(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    entry = await _setup(hass, {"left": left}, max_burn={"left": 30})
    left.device.settings.loss = 1.0  # the cut cannot be confirmed: the burner stays at its limit
    await clock.advance(30 * 60)
    left.device.settings.loss = 0.0
    guard = entry.runtime_data.guard.guard
    guard.cut_done("left", False, hass.loop.time())  # (as the failed round leaves it)
    guard.burners["left"].retry_at = None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "snooze", {"burners": ["left"], "duration": "5m"},
                                       blocking=True)
    assert err.value.translation_key == "snooze_refused"


async def test_a_timer_is_warned_of_and_a_snooze_moves_it(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    entry = await _setup(hass, {"left": left}, flames={})
    warnings = async_capture_events(hass, "gasstove_warning")
    notes = async_capture_events(hass, "gasstove_automatic_shut_off")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["left"], "delay": "3m"},
                                   blocking=True)
    await clock.advance(2 * 60)
    assert _said(warnings) == [("left", "timer", True, None)]
    assert warnings[0].data["message"] == "Left burner shuts off in 1 minute: its timer."
    await hass.services.async_call("button", "press",
                                   {"entity_id": "button.kitchen_left_5_more_minutes"}, blocking=True)
    await hass.async_block_till_done()
    assert _said(warnings)[-1] == ("left", "timer", False, "snoozed")
    timer = entry.runtime_data.timers["left"]
    assert timer.due == dt_util.utcnow() + timedelta(minutes=5)  # the timer itself moved
    await clock.advance(4 * 60)
    assert _said(warnings)[-1] == ("left", "timer", True, None) and left.lit
    await clock.advance(60)
    assert not left.lit
    assert [(n.data["reason"], n.data["message"]) for n in notes] == [
        ("timer", "Left burner shut off by its timer.")]
    assert _said(warnings)[-1] == ("left", "timer", False, "shut_off")


async def test_warn_before_zero_cuts_unannounced(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    await _setup(hass, {"left": left}, max_burn={"left": 30}, warn_before_seconds=0)
    warnings = async_capture_events(hass, "gasstove_warning")
    await clock.advance(30 * 60)
    assert warnings == [] and not left.lit


async def test_warnings_and_notes_as_notifications_when_asked(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    entry = await _setup(hass, {"left": left}, max_burn={"left": 30}, guard_notify=True)
    await clock.advance(29 * 60)
    shown = persistent_notification._async_get_or_create_notifications(hass)
    warning_id = f"{DOMAIN}_{entry.entry_id}_left_warning"
    assert shown[warning_id]["message"] == \
        "Left burner shuts off in 1 minute: lit for 30 minutes, its maximum burn time."
    await clock.advance(60)
    shown = persistent_notification._async_get_or_create_notifications(hass)
    assert warning_id not in shown
    assert shown[f"{DOMAIN}_{entry.entry_id}_left_note"]["message"] == \
        "Left burner shut off: lit for 30 minutes, its maximum burn time."


async def test_a_warning_nobody_can_be_shown_does_not_hold_the_cut_back(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    await _setup(hass, {"left": left}, max_burn={"left": 30}, guard_notify=True)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the notification could not be made")

    with patch.object(guard.persistent_notification, "async_create", broken):
        await clock.advance(30 * 60)
    assert not left.lit


async def test_a_temperature_flame_input_uses_lit_at_and_out_below(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    hass.states.async_set(PROBE, "20")
    entry = await _setup(hass, {"left": left}, max_burn={"left": 30}, flames={
        "left": {"flame_entity": PROBE, "flame_lit_at": 80.0, "flame_out_below": 60.0}})
    flames = entry.runtime_data.flames
    await clock.sensor(PROBE, "85")
    assert flames.lit["left"] is True
    await clock.advance(20 * 60)
    await clock.sensor(PROBE, "65")  # between the two: still lit, the count goes on
    assert flames.lit["left"] is True
    await clock.sensor(PROBE, "59.5")
    assert flames.lit["left"] is False
    await clock.sensor(PROBE, "79")  # under lit_at: still out
    assert flames.lit["left"] is False
    await clock.sensor(PROBE, "unavailable")
    assert flames.lit["left"] is False
    await clock.sensor(PROBE, "80")
    await clock.advance(30 * 60)
    assert not left.lit


# -- hazards --------------------------------------------------------------------------
async def test_a_hazard_cuts_and_locks_every_burner_and_only_a_person_unlocks(
        hass: HomeAssistant, miio_relay: Any, freezer: FrozenDateTimeFactory,
        hass_admin_user: MockUser) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    _hazard_sensors(hass)
    hass.states.async_set(FLAME, "on")
    entry = await _setup(hass, {"left": left, "right": right}, hazard_entities=[SMOKE, CO],
                         max_burn={"left": 30})
    notes = async_capture_events(hass, "gasstove_automatic_shut_off")
    warnings = async_capture_events(hass, "gasstove_warning")
    await Clock(hass, freezer).advance(29 * 60)  # a warning standing: the alarm ends it
    hass.states.async_set(CO, "on", {"device_class": "carbon_monoxide", "friendly_name": "Hall CO"})
    await hass.async_block_till_done()
    assert not left.lit and not right.lit  # at once, no grace
    assert _said(warnings)[-1] == ("left", "max_burn", False, "hazard")
    for burner in ("left", "right"):
        assert hass.states.get(f"lock.kitchen_{burner}_lock").state == "locked"
    assert [(n.data["reason"], n.data["kind"], n.data["burners"], n.data["confirmed"], n.data["message"])
            for n in notes] == [("hazard", "co", ["left", "right"], True,
                                 "Carbon monoxide alarm (Hall CO): Left, Right shut off and locked. "
                                 "A person must unlock them once it is safe.")]
    shown = persistent_notification._async_get_or_create_notifications(hass)
    assert shown[f"{DOMAIN}_{entry.entry_id}_hazard_note"]["message"] == notes[0].data["message"]
    # The alarm clears: still locked. An automation (no user) may not unlock...
    hass.states.async_set(CO, "off", {"device_class": "carbon_monoxide"})
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "unlock", {"burners": ["left"]}, blocking=True)
    assert err.value.translation_key == "unlock_needs_person"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call("lock", "unlock", {"entity_id": "lock.kitchen_left_lock"},
                                       blocking=True)
    assert hass.states.get("lock.kitchen_left_lock").state == "locked"
    # ...nor a system user (Home Assistant Cloud's Alexa and Google, an add-on)...
    bridge = await hass.auth.async_create_system_user("Voice bridge", group_ids=["system-admin"])
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call("lock", "unlock", {"entity_id": "lock.kitchen_left_lock"},
                                       blocking=True, context=Context(user_id=bridge.id))
    assert hass.states.get("lock.kitchen_left_lock").state == "locked"
    # ...a signed-in person may.
    await hass.services.async_call("lock", "unlock", {"entity_id": "lock.kitchen_left_lock"},
                                   blocking=True, context=Context(user_id=hass_admin_user.id))
    await hass.async_block_till_done()
    assert hass.states.get("lock.kitchen_left_lock").state == "unlocked"
    # An ordinary lock (no hazard) stays anyone's to undo.
    await hass.services.async_call(DOMAIN, "lock", {"burners": ["left"]}, blocking=True)
    await hass.services.async_call(DOMAIN, "unlock", {"burners": ["left"]}, blocking=True)
    assert hass.states.get("lock.kitchen_left_lock").state == "unlocked"


async def test_a_hazard_already_on_when_home_assistant_starts_cuts_and_locks(
        hass: HomeAssistant, miio_relay: Any) -> None:
    """The library's retained rule: an alarm of unknown age still cuts (the safe side)."""
    left, right = miio_relay("left"), miio_relay("right")
    _hazard_sensors(hass, smoke="on")
    await _setup(hass, {"left": left, "right": right}, hazard_entities=[SMOKE], flames={})
    assert not left.lit and not right.lit
    assert hass.states.get("lock.kitchen_right_lock").state == "locked"


async def test_a_hazard_sensor_that_drops_off_is_warned_of_never_cut_on(
        hass: HomeAssistant, left: SimRelay) -> None:
    _hazard_sensors(hass)
    entry = await _setup(hass, {"left": left}, hazard_entities=[SMOKE], flames={})
    hass.states.async_set(SMOKE, "unavailable", {"device_class": "smoke", "friendly_name": "Kitchen smoke"})
    await hass.async_block_till_done()
    assert left.lit
    shown = persistent_notification._async_get_or_create_notifications(hass)
    assert shown[f"{DOMAIN}_{entry.entry_id}_{SMOKE}_offline"]["message"] == (
        "Kitchen: the hazard sensor Kitchen smoke is unavailable; the stove guard cannot hear it "
        "until it is back.")
    # Back and clear: nothing happened; back in alarm: cut.
    hass.states.async_set(SMOKE, "off", {"device_class": "smoke"})
    await hass.async_block_till_done()
    assert left.lit
    hass.states.async_set(SMOKE, "on", {"device_class": "smoke"})
    await hass.async_block_till_done()
    assert not left.lit


# -- restarts ------------------------------------------------------------------------
async def test_a_warning_standing_at_a_restart_is_given_again_and_the_cut_comes_on_time(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    clock = Clock(hass, freezer)
    entry = await _setup(hass, {"left": left}, flames={})
    warnings = async_capture_events(hass, "gasstove_warning")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["left"], "delay": "3m"},
                                   blocking=True)
    await clock.advance(2 * 60 + 30)
    assert _said(warnings) == [("left", "timer", True, None)]
    assert await hass.config_entries.async_reload(entry.entry_id)  # Home Assistant restarts
    await hass.async_block_till_done()
    assert _said(warnings)[-1] == ("left", "timer", True, None)
    assert warnings[-1].data["seconds_left"] == 30
    assert hass.states.get(WARNING).attributes["reason"] == "timer"
    await clock.advance(29)
    assert left.lit
    await clock.advance(1)
    assert not left.lit


async def test_a_hazard_lock_outlives_a_restart_and_still_needs_a_person(
        hass: HomeAssistant, left: SimRelay, hass_admin_user: MockUser) -> None:
    _hazard_sensors(hass)
    entry = await _setup(hass, {"left": left}, hazard_entities=[SMOKE], flames={})
    hass.states.async_set(SMOKE, "on", {"device_class": "smoke"})
    await hass.async_block_till_done()
    hass.states.async_set(SMOKE, "off", {"device_class": "smoke"})
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("lock.kitchen_left_lock").state == "locked"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(DOMAIN, "unlock", {"burners": ["left"]}, blocking=True)
    await hass.services.async_call(DOMAIN, "unlock", {"burners": ["left"]}, blocking=True,
                                   context=Context(user_id=hass_admin_user.id))
    assert hass.states.get("lock.kitchen_left_lock").state == "unlocked"


async def test_the_note_of_an_automatic_cut_reads_in_the_logbook_in_the_users_language(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    from custom_components.gasstove.logbook import async_describe_events

    hass.config.language = "zh-Hans"
    clock = Clock(hass, freezer)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set(PRESENCE, "off")
    await _setup(hass, {"left": left}, presence_entity=PRESENCE)
    warnings = async_capture_events(hass, "gasstove_warning")
    notes = async_capture_events(hass, "gasstove_automatic_shut_off")
    await clock.advance(9 * 60)
    assert warnings[0].data["message"] == "Left1分钟后关火：厨房已经10分钟没人了。"
    await clock.advance(60)
    described: dict[str, Any] = {}
    async_describe_events(hass, lambda domain, name, fn: described.__setitem__(name, fn))
    assert described["gasstove_automatic_shut_off"](notes[0]) == {
        "name": "Kitchen", "message": "厨房10分钟没人，Left已关火。",
        "entity_id": "sensor.kitchen_left_burner"}


# -- options ---------------------------------------------------------------------------
async def test_the_options_take_the_guards_inputs_and_refuse_a_warning_after_the_cut(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    _hazard_sensors(hass)
    hass.states.async_set(PRESENCE, "off")
    hass.states.async_set(FLAME, "on")
    entry = await _setup(hass, {"left": left})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    guard_input = {"longest_timer_minutes": 0, "presence_entity": PRESENCE,
                   "hazard_entities": [SMOKE, CO], "away_after_minutes": 5,
                   "warn_before_seconds": 300, "guard_notify": True}
    result = await hass.config_entries.options.async_configure(result["flow_id"], guard_input)
    assert result["errors"] == {"warn_before_seconds": "warn_before_too_long"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**guard_input, "warn_before_seconds": 30})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cut_seconds": 1, "aliases": ""})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"flame_entity": FLAME})
    await hass.async_block_till_done()
    assert {k: entry.options[k] for k in guard_input if k != "longest_timer_minutes"} == {
        "presence_entity": PRESENCE, "hazard_entities": [SMOKE, CO], "away_after_minutes": 5,
        "warn_before_seconds": 30, "guard_notify": True}
    guard_config = entry.runtime_data.guard.config  # reloaded with them
    assert (guard_config.away_after, guard_config.warn_before) == (300.0, 30.0)
    assert [h.kind for h in guard_config.hazards] == ["smoke", "co"]
    await Clock(hass, freezer).advance(5 * 60)
    assert not left.lit  # nobody there for 5 minutes since the reload


@pytest.mark.parametrize(("device_class", "kind", "alarm"), [
    ("smoke", "smoke", "Smoke alarm"), ("carbon_monoxide", "co", "Carbon monoxide alarm"),
    ("gas", "gas", "Gas leak alarm"), ("heat", "heat", "Heat alarm")])
async def test_each_kind_of_hazard_cuts_and_says_which(
        hass: HomeAssistant, left: SimRelay, device_class: str, kind: str, alarm: str) -> None:
    sensor = f"binary_sensor.kitchen_{device_class}"
    hass.states.async_set(sensor, "off", {"device_class": device_class, "friendly_name": "Sensor"})
    await _setup(hass, {"left": left}, hazard_entities=[sensor], flames={})
    notes = async_capture_events(hass, "gasstove_automatic_shut_off")
    hass.states.async_set(sensor, "on", {"device_class": device_class, "friendly_name": "Sensor"})
    await hass.async_block_till_done()
    assert not left.lit
    assert [(n.data["kind"], n.data["message"].split(" (")[0]) for n in notes] == [(kind, alarm)]
    # "on" again (an attribute changed): the same alarm, no second cut.
    hass.states.async_set(sensor, "on", {"device_class": device_class, "friendly_name": "Sensor",
                                         "battery": 90})
    await hass.async_block_till_done()
    assert len(notes) == 1


async def test_diagnostics_show_what_the_guard_knows(
        hass: HomeAssistant, left: SimRelay, freezer: FrozenDateTimeFactory) -> None:
    from custom_components.gasstove.diagnostics import async_get_config_entry_diagnostics

    _hazard_sensors(hass)
    hass.states.async_set(FLAME, "on")
    hass.states.async_set(PRESENCE, "off")
    entry = await _setup(hass, {"left": left}, presence_entity=PRESENCE, hazard_entities=[SMOKE])
    await Clock(hass, freezer).advance(9 * 60)
    guard_state = (await async_get_config_entry_diagnostics(hass, entry))["guard"]
    assert guard_state["presence"] == {"entity_id": PRESENCE, "present": None, "away_for_s": 540,
                                       "away_after_s": 600.0}
    assert guard_state["hazards"] == [{"entity_id": SMOKE, "kind": "smoke", "active": None,
                                       "online": True}]
    assert guard_state["warnings"]["left"]["reason"] == "inactivity"
