"""Timers and shut-offs when the relay does not confirm: retries, Repairs, deadlines.

The relay is the simulated miio device on real UDP; "silent" means it drops
every datagram (``loss = 1.0``), as a relay whose Wi-Fi is gone does, and it
comes back by setting the loss to 0. The test runs Home Assistant's timers
ahead of time (``async_fire_time_changed``) instead of waiting for them; only
the relay's own deadline (1 s) runs on real time. (Not ``freezer``: it
freezes the event loop's monotonic clock but not a worker thread's, where
the miio driver measures the deadline the loop gave it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest
from custom_components.gasstove.const import DOMAIN, SCAN_INTERVAL
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component import common
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    flush_store,
)

from .conftest import TOKEN, SimRelay, entry_data, miio_burner

DEADLINE_S = 1.0  # entry_data's deadline
STORE_KEY = "gasstove.{}.timers"
BUTTON = "button.kitchen_left_shut_off_now"


async def _setup(hass: HomeAssistant, relay: SimRelay) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(relay.host)}, deadline=DEADLINE_S))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _advance(hass: HomeAssistant, seconds: float) -> None:
    """Run what Home Assistant has due within ``seconds`` from now (and up to 0.5 s more)."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"shut_off_failed_{entry.entry_id}_left")


def _stored_timers(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, Any]:
    timers: dict[str, Any] = hass_storage[STORE_KEY.format(entry.entry_id)]["data"]["timers"]
    return timers


def _silent(relay: SimRelay, silent: bool = True) -> None:
    relay.device.settings.loss = 1.0 if silent else 0.0


async def _set_timer(hass: HomeAssistant, minutes: int) -> None:
    await hass.services.async_call(DOMAIN, "shut_off",
                                   {"burners": "left", "delay": {"minutes": minutes}}, blocking=True)


async def _due_while_silent(hass: HomeAssistant, relay: SimRelay, minutes: int) -> MockConfigEntry:
    """A timer comes due while the relay is silent: its first attempt has failed."""
    entry = await _setup(hass, relay)
    await _set_timer(hass, minutes)
    _silent(relay)
    await _advance(hass, minutes * 60 + 1)
    return entry


async def test_a_failed_timer_is_retried_like_the_daemons_and_stays_in_repairs_until_a_confirmed_cut(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    entry = await _due_while_silent(hass, left, 10)
    assert [e.data.get("retry_in_seconds") for e in failed] == [5]
    (notification,) = hass.data["persistent_notification"].values()
    assert notification["message"].endswith("\n\nTrying again in 5 seconds."), notification["message"]
    issue = _issue(hass, entry)
    assert issue is not None and issue.active and issue.is_persistent
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "shut_off_failed"
    placeholders = issue.translation_placeholders or {}
    assert placeholders["burner"] == "Left" and placeholders["stove"] == "Kitchen"
    assert placeholders["message"].startswith("the relay did not answer in time")
    assert TOKEN not in str(placeholders)
    # Between attempts the timer is still stored (a restart now fires it again),
    # and a cancel is too late: the shut-off is under way.
    assert set(_stored_timers(hass_storage, entry)) == {"left"}
    await hass.services.async_call(DOMAIN, "cancel", {"burners": "left"}, blocking=True)

    await _advance(hass, 4)
    assert len(failed) == 1  # not before the daemon's 5 s
    await _advance(hass, 5.1)
    assert [e.data.get("retry_in_seconds") for e in failed] == [5, 15]
    await _advance(hass, 14)
    assert len(failed) == 2
    await _advance(hass, 15.1)
    # All three attempts failed: the timer stays armed and fires again in a minute.
    assert [e.data.get("retry_in_seconds") for e in failed] == [5, 15, 60]
    assert left.lit  # the relay never heard any of them
    assert set(_stored_timers(hass_storage, entry)) == {"left"}
    shown = dt_util.parse_datetime(hass.states.get("sensor.kitchen_left_scheduled_shut_off").state)
    assert shown is not None
    assert abs((shown - dt_util.utcnow()).total_seconds() - 60) < 2
    await _advance(hass, 59)
    assert len(failed) == 3
    await _advance(hass, 60.1)
    await _advance(hass, 5.1)
    await _advance(hass, 15.1)
    assert [e.data.get("retry_in_seconds") for e in failed][3:] == [5, 15, 120]  # longer now

    # "Restart" between rounds: the entry goes, and Home Assistant's issue
    # registry is saved and read back as a new start would read it.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await flush_store(ir.async_get(hass)._store)
    fresh = ir.IssueRegistry(hass)
    await fresh.async_load()
    restored = fresh.async_get_issue(DOMAIN, f"shut_off_failed_{entry.entry_id}_left")
    assert restored is not None and restored.active
    assert (restored.translation_placeholders or {})["burner"] == "Left"
    _silent(left, False)  # the relay is back
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, entry) is not None and left.lit

    # The timer's next round is confirmed: that clears the issue, and the timer.
    await _advance(hass, 121)
    assert not left.lit
    assert _issue(hass, entry) is None
    assert _stored_timers(hass_storage, entry) == {}
    await flush_store(ir.async_get(hass)._store)
    fresh = ir.IssueRegistry(hass)
    await fresh.async_load()
    assert fresh.async_get_issue(DOMAIN, f"shut_off_failed_{entry.entry_id}_left") is None


async def test_a_timer_whose_attempts_all_failed_stays_armed_until_cancelled(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    entry = await _due_while_silent(hass, left, 1)
    await _advance(hass, 5.1)
    await _advance(hass, 15.1)
    assert len(failed) == 3
    await hass.services.async_call(DOMAIN, "cancel", {"burners": "left"}, blocking=True)
    assert _stored_timers(hass_storage, entry) == {}
    await _advance(hass, 3600)
    assert len(failed) == 3  # cancelled: no more attempts
    assert _issue(hass, entry) is not None  # but the burner was never confirmed off


async def test_a_retry_that_is_confirmed_ends_the_timer_and_the_issue(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    entry = await _due_while_silent(hass, left, 1)
    assert _issue(hass, entry) is not None and left.lit
    _silent(left, False)  # a Wi-Fi blip: the relay is back before the retry
    await _advance(hass, 5.1)
    assert not left.lit
    assert [e.data["source"] for e in shut_off] == ["timer"]
    assert _issue(hass, entry) is None
    assert _stored_timers(hass_storage, entry) == {}


async def test_unloading_between_attempts_keeps_the_timer_for_the_next_start(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    entry = await _due_while_silent(hass, left, 1)
    assert _issue(hass, entry) is not None
    # Home Assistant stops while the timer waits for its next attempt.
    start = time.monotonic()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert time.monotonic() - start < DEADLINE_S  # the wait ends; nothing hangs
    assert set(_stored_timers(hass_storage, entry)) == {"left"}
    _silent(left, False)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _advance(hass, 61)
    assert not left.lit  # it fired again after the next start
    assert _issue(hass, entry) is None
    assert _stored_timers(hass_storage, entry) == {}


async def test_a_failed_shut_off_now_leaves_the_pending_timer_armed(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    await _set_timer(hass, 20)
    _silent(left)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left"}, blocking=True)
    # The failure is in Repairs, and the timer is still armed and stored.
    assert _issue(hass, entry) is not None
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state != "unknown"
    assert set(_stored_timers(hass_storage, entry)) == {"left"}
    _silent(left, False)
    await _advance(hass, 20 * 60 + 1)
    assert not left.lit  # the timer still did its job
    assert _issue(hass, entry) is None


async def test_a_confirmed_shut_off_now_ends_the_pending_timer(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    await _set_timer(hass, 20)
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert not left.lit
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state == "unknown"
    assert _stored_timers(hass_storage, entry) == {}


async def test_a_timer_due_during_a_confirmed_shut_off_now_does_not_cut_again(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left = miio_relay("left", latency_s=0.15)  # a cut and its read-back take a while
    entry = await _setup(hass, left)
    await _set_timer(hass, 1)
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    press = hass.async_create_task(
        hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True))
    await asyncio.sleep(0.1)  # the button's cut is under way...
    await _advance(hass, 61)  # ...when the timer comes due
    await press
    cuts = [r for r in left.device.requests if r.get("method") == "set_properties"
            and r["params"][0]["value"] is True]
    assert len(cuts) == 1  # the timer saw the confirmed cut and did not pulse again
    assert [e.data["source"] for e in shut_off] == ["button"]
    assert not left.lit and _stored_timers(hass_storage, entry) == {}


async def test_a_shut_off_does_not_wait_for_a_poll_in_progress(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    coordinator = entry.runtime_data
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    _silent(left)
    poll = hass.async_create_task(coordinator.async_refresh())
    await asyncio.sleep(0.05)  # the poll now waits for the silent relay, up to its deadline
    start = time.monotonic()
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left"}, blocking=True)
    elapsed = time.monotonic() - start
    assert [e.data["burner"] for e in failed] == ["left"]
    assert elapsed <= DEADLINE_S + 0.5, f"the failure came {elapsed:.2f} s after the press"
    await poll


async def test_a_poll_read_before_a_lock_does_not_undo_what_the_lock_shows(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    coordinator = entry.runtime_data
    read_status = coordinator.stove.status
    read, answer = asyncio.Event(), asyncio.Event()

    async def late_status(burners: Any) -> Any:
        outcomes = await read_status(burners)  # the relay says "resting"...
        read.set()
        await answer.wait()  # ...and that answer arrives after the lock
        return outcomes

    with patch.object(coordinator.stove, "status", late_status):
        poll = hass.async_create_task(coordinator.async_refresh())
        await read.wait()
        await hass.services.async_call("lock", "lock",
                                       {"entity_id": "lock.kitchen_left_lock"}, blocking=True)
        answer.set()
        await poll
    assert left.device.energised  # really locked
    assert hass.states.get("lock.kitchen_left_lock").state == "locked"
    assert hass.states.get("sensor.kitchen_left_burner").state == "locked"


async def test_the_repair_shuts_the_burner_off_again(hass: HomeAssistant, miio_relay: Any) -> None:
    assert await async_setup_component(hass, "repairs", {})
    left = miio_relay("left")
    entry = await _setup(hass, left)
    _silent(left)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    issue = _issue(hass, entry)
    assert issue is not None and issue.is_fixable
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    assert result["type"] == "form"
    assert (result["description_placeholders"] or {})["burner"] == "Left"
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "form" and result["errors"] == {"base": "not_confirmed"}
    # The reason alone: "Still not confirmed: no answer ...", not the whole toast again.
    assert result["description_placeholders"]["message"].startswith("the relay did not answer in time")
    assert left.lit and _issue(hass, entry) is not None  # still silent: still a problem
    _silent(left, False)
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    assert not left.lit
    assert _issue(hass, entry) is None


async def test_a_silent_relay_leaves_every_control_usable_so_a_request_fails_loudly(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    _silent(left)
    await entry.runtime_data.async_refresh()
    assert hass.states.get("sensor.kitchen_left_burner").state == "unreachable"
    assert hass.states.get("lock.kitchen_left_lock").state == "unknown"
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    # Home Assistant would skip these without a word on an unavailable entity.
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert [e.data["source"] for e in failed] == ["button"]
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("lock", "lock",
                                       {"entity_id": "lock.kitchen_left_lock"}, blocking=True)


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_the_repair_issue_reads_in_each_language_with_what_it_is_given(
    hass: HomeAssistant, miio_relay: Any, language: str,
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    _silent(left)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    issue = _issue(hass, entry)
    assert issue is not None
    texts = await async_get_translations(hass, language, "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.shut_off_failed"
    placeholders = issue.translation_placeholders or {}
    for key in (".title", ".fix_flow.step.confirm.description"):
        text = texts[prefix + key].format(**placeholders)
        assert "Left" in text
    assert "Kitchen" in texts[prefix + ".title"].format(**placeholders)
    assert placeholders["message"] in texts[prefix + ".fix_flow.step.confirm.description"].format(
        **placeholders)


async def test_timers_due_while_down_each_fire_with_their_own_source(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    due = (dt_util.utcnow() - timedelta(minutes=3)).isoformat()
    key = STORE_KEY.format("entry-late")
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {"timers": {
        "left": {"due": due, "delay_s": 600, "source": "assist"},
        "right": {"due": due, "delay_s": 600, "source": "number"}}}}
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", entry_id="entry-late",
                            data=entry_data({"left": miio_burner(left.host),
                                             "right": miio_burner(right.host)}))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert not left.lit and not right.lit
    assert {e.data["burner"]: e.data["set_from"] for e in shut_off} == {
        "left": "assist", "right": "number"}


@contextlib.contextmanager
def _clock_jumped(seconds: float) -> Iterator[None]:
    """The wall clock stepped by ``seconds`` (NTP correcting a Raspberry Pi that booted at
    its last shutdown time): ``dt_util.utcnow`` and the ``time.time`` that
    ``async_fire_time_changed`` measures from move, the event loop's monotonic clock does
    not, so a timer already waiting with ``loop.call_at`` still waits its whole length
    (``_advance`` then runs what is due within so many seconds of the loop's clock)."""
    real_utcnow, real_time = dt_util.utcnow, time.time
    with patch.object(dt_util, "utcnow", lambda: real_utcnow() + timedelta(seconds=seconds)), \
            patch.object(common, "time", SimpleNamespace(time=lambda: real_time() + seconds)):
        yield


async def test_a_timer_whose_due_instant_the_clock_jumped_past_fires_at_the_next_poll_once(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    left = miio_relay("left")
    entry = await _setup(hass, left)
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    await _set_timer(hass, 20)
    with _clock_jumped(3600):
        await _advance(hass, 1)
        assert left.lit and shut_off == []  # nothing woke yet
        await _advance(hass, SCAN_INTERVAL.total_seconds())  # the poll only
        assert not left.lit, "cut within one poll of the jump, not 20 minutes on"
        assert [(e.data["source"], "late_seconds" in e.data) for e in shut_off] == [("timer", False)]
        assert "the clock moved past the shut-off timer's due instant 20m before" in caplog.text
        assert _stored_timers(hass_storage, entry) == {}
        await _advance(hass, 20 * 60 + 60)  # the timer's own call_at, had it stayed
        await _advance(hass, SCAN_INTERVAL.total_seconds())
    assert len(shut_off) == 1, "once"


async def test_a_clock_stepped_back_does_not_delay_a_timer(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    """A step back is not time passing: "in 20 minutes" fires after 20 real minutes."""
    left = miio_relay("left")
    await _setup(hass, left)
    await _set_timer(hass, 20)
    with _clock_jumped(-3600):
        await _advance(hass, 20 * 60 - 2)  # (each _advance counts from the moment of setting)
        assert left.lit, "not early"
        await _advance(hass, 20 * 60 + 1)
        assert not left.lit, "not an hour late"


async def test_a_poll_and_the_timer_coming_due_together_cut_once(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    left = miio_relay("left")
    await _setup(hass, left)
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    await _set_timer(hass, 20)
    await _advance(hass, 20 * 60 + 1)  # both the poll and the timer's call_at run
    cuts = [r for r in left.device.requests if r.get("method") == "set_properties"
            and r["params"][0]["value"] is True]
    assert not left.lit and len(cuts) == 1 and len(shut_off) == 1


async def test_a_timer_restored_while_the_clock_is_behind_fires_once_ntp_corrects_it(
    hass: HomeAssistant, miio_relay: Any, hass_storage: dict[str, Any],
) -> None:
    """A Raspberry Pi without a real-time clock starts Home Assistant an hour behind; the
    stored timer is armed for its due instant plus that hour. Once the corrected clock
    reads past the due instant, the next poll cuts: not an hour later."""
    left = miio_relay("left")
    key = STORE_KEY.format("entry-behind")
    due = dt_util.utcnow() + timedelta(minutes=10)
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {"timers": {
        "left": {"due": due.isoformat(), "delay_s": 1200, "source": "assist"}}}}
    shut_off = async_capture_events(hass, "gasstove_shut_off")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", entry_id="entry-behind",
                            data=entry_data({"left": miio_burner(left.host)}))
    entry.add_to_hass(hass)
    with _clock_jumped(-3600):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    with _clock_jumped(10 * 60 + 1):  # NTP, and the ten minutes gone by the clock
        await _advance(hass, SCAN_INTERVAL.total_seconds())
        assert not left.lit, "cut within one poll, not an hour on"
        await _advance(hass, 70 * 60 + 60)
    assert [e.data["set_from"] for e in shut_off] == ["assist"], "once"
