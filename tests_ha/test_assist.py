"""Assist end to end: sentence files written by `stove ha sentences`, then conversation.process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from gasstove.cli.ha import write_sentences

from .conftest import entry_data, miio_burner


@pytest.fixture
async def assist(hass: HomeAssistant, miio_relay: Any, tmp_path: Path) -> tuple[Any, Any]:
    left, right = miio_relay("left"), miio_relay("right")
    hass.config.config_dir = str(tmp_path)
    written = write_sentences(tmp_path, {"left": ["左边", "left burner"], "right": []})
    assert {p.parent.name for p in written} == {"en", "zh-cn", "zh-CN"}
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u", data=entry_data(
        {"left": miio_burner(left.host), "right": miio_burner(right.host)}))
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return left, right


async def _say(hass: HomeAssistant, text: str, language: str) -> str:
    result = await hass.services.async_call(
        "conversation", "process", {"text": text, "language": language}, blocking=True, return_response=True)
    assert result is not None
    speech: str = result["response"]["speech"]["plain"]["speech"]
    return speech


async def test_english(hass: HomeAssistant, assist: Any) -> None:
    left, right = assist
    speech = await _say(hass, "turn off the left burner in 20 minutes", "en")
    assert "20m" in speech, speech
    assert hass.states.get("sensor.kitchen_left_scheduled_shut_off").state != "unknown"
    assert "Cancelled" in await _say(hass, "cancel the stove timer", "en")
    speech = await _say(hass, "turn off the stove", "en")
    assert "Shut off" in speech, speech
    assert not left.lit and not right.lit


@pytest.mark.parametrize("language", ["zh-cn", "zh-CN"])
async def test_chinese(hass: HomeAssistant, assist: Any, language: str) -> None:
    left, right = assist
    speech = await _say(hass, "二十分钟后关火", language)
    assert "20m" in speech, speech
    speech = await _say(hass, "关掉左边的火", language)
    assert "已关火" in speech, speech
    assert not left.lit and right.lit
