"""A clean log: set-up, use and unload of the integration log nothing a user would be alarmed by.

On HA 2025.4 the integration used to log, at every start, an ``Exception in
<function _async_process_intent ...>`` (``intent.py`` is an intent platform:
HA's intent integration awaits its ``async_setup_intents``), ``Intent
GasStoveShutOff is being overwritten`` (intents registered twice) and
``Detected blocking call to read_text ... by custom integration 'gasstove'``
(the voice grammar read on the event loop). This test goes through what a
user does -- set-up, a button cut, a timer set, cancelled, set again and fired,
Assist sentences, a service call, an intent fired without text, an options
change (which reloads the entry), unload and removal -- with HA's blocking-call
detection on as a real Home Assistant has it, and fails on any record at
ERROR or above from any logger and on any blocking-call or overwritten-intent
warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant import block_async_io
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util import loop as loop_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from gasstove.cli.ha import write_sentences
from gasstove.domain.voice import grammar

from .conftest import SimRelay, entry_data, miio_burner

BUTTON = "button.kitchen_left_shut_off_now"
SCHEDULED = "sensor.kitchen_{}_scheduled_shut_off"
#: Warnings that are bugs of ours even below ERROR (HA's own wording).
ALARMING = ("Detected blocking call", "is being overwritten")


@pytest.fixture
def blocking_call_detection() -> Iterator[None]:
    """HA's blocking-call detection, as ``bootstrap`` turns it on in a real Home Assistant.

    The harness never calls ``block_async_io.enable()``, and ``enable()`` leaves out the
    checks marked ``skip_for_tests`` (open, read_text, listdir, import_module...) whenever
    ``unittest`` is imported -- which pytest always does. So it is enabled here with
    ``_IN_TESTS`` off, from the event loop's thread (a sync fixture runs there too, and
    ``enable()`` takes the calling thread as the loop's), and undone as the harness's
    ``disable_block_async_io`` does. Offences reported by an earlier test are forgotten,
    or HA would log a repeat at DEBUG only.
    """
    assert not block_async_io._BLOCKED_CALLS.calls, "blocking-call detection already enabled"
    loop_util._PREVIOUSLY_REPORTED.clear()
    with patch.object(block_async_io, "_IN_TESTS", False):
        block_async_io.enable()
    try:
        # Every check a real Home Assistant has (read_text and open among them).
        assert block_async_io._BLOCKED_CALLS.calls == set(block_async_io._BLOCKING_CALLS)
        yield
    finally:
        calls = block_async_io._BLOCKED_CALLS.calls
        for call in calls:
            setattr(call.object, call.function, call.original_func)
        calls.clear()
        loop_util._PREVIOUSLY_REPORTED.clear()


def _alarming(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage().splitlines()[0]}" for r in records
            if r.levelno >= logging.ERROR or any(text in r.getMessage() for text in ALARMING)]


async def _say(hass: HomeAssistant, text: str, language: str) -> str:
    result = await hass.services.async_call(
        "conversation", "process", {"text": text, "language": language}, blocking=True,
        return_response=True)
    assert result is not None
    speech: str = result["response"]["speech"]["plain"]["speech"]
    return speech


def _due(hass: HomeAssistant, burner: str) -> str:
    state = hass.states.get(SCHEDULED.format(burner))
    assert state is not None
    return state.state


def _relight(relay: SimRelay) -> None:
    """By hand: the knob held in while the thermocouple heats up."""
    relay.burner.push_and_turn()
    relay.clock[0] += 5
    relay.burner.release()
    assert relay.lit


async def _advance(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


async def _options_with_defaults(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Go through the options flow as a user accepting every default (the fields are the
    flow's business): finishing it stores options, which reloads the entry."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    for _ in range(10):
        if result["type"] is not FlowResultType.FORM:
            break
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result


@pytest.mark.parametrize("assist_first", [True, False], ids=["assist-first", "stove-first"])
async def test_set_up_use_and_unload_log_nothing_alarming(
        hass: HomeAssistant, miio_relay: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        blocking_call_detection: None, assist_first: bool) -> None:
    caplog.set_level(logging.WARNING)
    left, right = miio_relay("left"), miio_relay("right")
    hass.config.config_dir = str(tmp_path)
    # `stove ha sentences`, run by the user before starting Home Assistant.
    await hass.async_add_executor_job(write_sentences, tmp_path, {"left": ["left burner"], "right": []})
    # The grammar is read once per process: neither that nor an earlier test may have
    # read it for Home Assistant.
    grammar._templates.cache_clear()
    grammar._intents.cache_clear()

    # Start: Home Assistant's core, conversation (and with it intent) and the stove, in
    # either order (HA's intent integration takes intent.py of integrations loaded before
    # it and after it).
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid", data=entry_data(
        {"left": miio_burner(left.host), "right": miio_burner(right.host)}))
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    if assist_first:
        assert await async_setup_component(hass, "conversation", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    if not assist_first:
        assert await async_setup_component(hass, "conversation", {})
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # A button cut.
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert not left.lit and right.lit
    _relight(left)

    # A timer set and cancelled by service call, set again and fired.
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "right", "delay": {"minutes": 20}},
                                   blocking=True)
    assert _due(hass, "right") != "unknown"
    await hass.services.async_call(DOMAIN, "cancel", {"burners": "right"}, blocking=True)
    assert _due(hass, "right") == "unknown"
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "right", "delay": {"minutes": 5}},
                                   blocking=True)
    await _advance(hass, 5 * 60 + 1)
    assert not right.lit
    assert _due(hass, "right") == "unknown"

    # Assist: a timer, a status question; an intent without text (an automation's).
    assert "5 minutes" in await _say(hass, "turn off the left burner in 5 minutes", "en")
    assert _due(hass, "left") != "unknown"
    await _say(hass, "when will the stove turn off", "en")
    response = await intent.async_handle(hass, "test", "GasStoveStatus", {}, language="en")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    # The stove guard's snooze: its action, its button and Assist (no warning standing).
    await hass.services.async_call(DOMAIN, "snooze", {"burners": "left", "duration": "2m"},
                                   blocking=True)
    await hass.services.async_call("button", "press",
                                   {"entity_id": "button.kitchen_left_5_more_minutes"}, blocking=True)
    assert "nothing to push back" in await _say(hass, "five more minutes", "en")

    # Options changed: the entry reloads, its timer restored from storage; then it fires.
    await _options_with_defaults(hass, entry)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert _due(hass, "left") != "unknown"
    await _advance(hass, 7 * 60 + 1)  # (the button moved the timer to 5 minutes from then)
    assert not left.lit

    # A cut said in Chinese.
    _relight(right)
    assert "已关火" in await _say(hass, "关掉右边的火", "zh-cn")
    assert not right.lit

    # Unload, then remove the stove (its stored timers and burner records go too).
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert _alarming(caplog.records) == []
