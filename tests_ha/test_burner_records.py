"""Each burner's lock and pulse records outlive Home Assistant (issue 13, items 1 and 7).

The library keeps them per burner (:mod:`gasstove.adapters.burner_guard`); the
integration keeps them on disk, one directory per stove in ``.storage``. A restart
is an unload and a new setup of the entry (a new coordinator, a new Stove); a
crash mid-pulse is a pulse record written with the guard's own API and the relay's
contact left open. Real miio over UDP to the simulated relays, as everywhere in tests_ha.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from gasstove.adapters.burner_guard import BurnerRecord, FileBurnerGuard, Pulse

from .conftest import DEAD_HOST, entry_data, miio_burner

LOCK = "lock.kitchen_left_lock"
BURNER = "sensor.kitchen_left_burner"


def _entry(hass: HomeAssistant, burners: dict[str, Any]) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data(burners))
    entry.add_to_hass(hass)
    return entry


async def _start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def _restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """What a restart of Home Assistant does to the entry: a new coordinator and Stove."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await _start(hass, entry)


def _records(hass: HomeAssistant, entry: MockConfigEntry) -> FileBurnerGuard:
    return FileBurnerGuard(Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.burners")))


async def _crashed_mid_pulse(hass: HomeAssistant, entry: MockConfigEntry, *, locked: bool) -> None:
    """The record a Home Assistant killed during a pulse leaves behind."""
    async with _records(hass, entry).hold("left", wait=1) as hold:
        hold.write(BurnerRecord(locked=locked, pulse=Pulse(time.time() - 60, "pid 4242")))


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"shut_off_failed_{entry.entry_id}_left")


async def test_a_lock_holds_through_a_restart_and_a_shut_off(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")  # normally closed: energised = the loop held open
    entry = _entry(hass, {"left": miio_burner(left.host)})
    await _start(hass, entry)
    await hass.services.async_call(DOMAIN, "lock", {"burners": "left"}, blocking=True)
    assert left.device.energised is True

    await _restart(hass, entry)
    assert hass.states.get(LOCK).state == "locked"
    events = async_capture_events(hass, "gasstove_shut_off")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left"}, blocking=True)
    # Held, not pulsed: a pulse would end with a restore and unlock the child lock.
    assert left.device.energised is True
    assert hass.states.get(LOCK).state == "locked"
    assert hass.states.get(BURNER).state == "locked"
    assert "locked" in events[0].data["message"]

    # And an unlock is remembered as well: after the next restart a shut-off is a pulse again.
    await hass.services.async_call(DOMAIN, "unlock", {"burners": "left"}, blocking=True)
    await _restart(hass, entry)
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "left"}, blocking=True)
    assert left.device.energised is False  # cut, then restored: it can be relit by hand
    assert "closed again" in events[-1].data["message"]


async def test_a_pulse_cut_short_by_a_crash_is_restored_at_setup(
        hass: HomeAssistant, miio_relay: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Normally open wiring: the relay released is the loop open, as the crash left it.
    left = miio_relay("left", wiring="normally_open", energised=False)
    entry = _entry(hass, {"left": miio_burner(left.host, wiring="normally_open")})
    await _crashed_mid_pulse(hass, entry, locked=False)
    await _start(hass, entry)
    assert left.device.energised is True  # restored: the burner can be lit by hand again
    assert _records(hass, entry).record("left") == BurnerRecord()
    assert hass.states.get(BURNER).state == "ready"
    assert hass.states.get(LOCK).state == "unlocked"
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "pid 4242" in r.message]
    assert warned and "restored" in warned[0].message
    assert _issue(hass, entry) is None


async def test_a_pulse_cut_short_on_a_locked_burner_stays_held(
        hass: HomeAssistant, miio_relay: Any, caplog: pytest.LogCaptureFixture) -> None:
    left = miio_relay("left", energised=True)  # normally closed, energised: the loop open
    entry = _entry(hass, {"left": miio_burner(left.host)})
    await _crashed_mid_pulse(hass, entry, locked=True)
    await _start(hass, entry)
    assert left.device.energised is True  # a lock was asked for: no restore
    assert _records(hass, entry).record("left") == BurnerRecord(locked=True)
    assert hass.states.get(LOCK).state == "locked"
    assert any(r.levelno == logging.WARNING and "left held off" in r.message for r in caplog.records)


async def test_a_pulse_that_cannot_be_restored_at_setup_is_reported(
        hass: HomeAssistant, loopback_sockets: None, caplog: pytest.LogCaptureFixture) -> None:
    entry = _entry(hass, {"left": miio_burner(DEAD_HOST)})
    await _crashed_mid_pulse(hass, entry, locked=False)
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    await _start(hass, entry)  # a relay that does not answer never fails the setup
    errors = [r.message for r in caplog.records if r.levelno == logging.ERROR and "left" in r.message]
    assert any("could NOT be restored" in m for m in errors)
    assert [e.data["burner"] for e in failed] == ["left"]
    issue = _issue(hass, entry)
    # (what a person reads: in Home Assistant's language, from the kind of failure)
    unlock_first = ("the loop could not be closed again (the relay did not answer in time): "
                    "the burner cannot be relit until it is unlocked")
    assert issue is not None and unlock_first in issue.translation_placeholders["message"]
    assert hass.states.get("binary_sensor.kitchen_left_shut_off_problem").state == "on"
    notifications = hass.data["persistent_notification"]
    assert any(unlock_first in n["message"] for n in notifications.values())
    assert _records(hass, entry).record("left").pulse is not None  # still to finish


async def test_removing_the_stove_removes_its_burners_records(
        hass: HomeAssistant, miio_relay: Any, config_dir: Path) -> None:
    left = miio_relay("left")
    entry = _entry(hass, {"left": miio_burner(left.host)})
    await _start(hass, entry)
    await hass.services.async_call(DOMAIN, "lock", {"burners": "left"}, blocking=True)
    records = _records(hass, entry)
    assert records.directory.is_relative_to(config_dir)  # not the harness's shared directory
    assert records.record("left").locked
    assert records.directory.is_dir()
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not records.directory.exists()
