"""What a user reads: burners by the names they gave them, one-sentence failures, every
string in the user's language (issue 21 items 4 and 6, issue 15 item 5).

Chinese tests set ``hass.config.language`` before the stove is set up, as a Chinese
Home Assistant has it: the integration's translations are loaded for that language then.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from custom_components.gasstove import coordinator
from custom_components.gasstove.const import DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import DEAD_HOST, TOKEN, entry_data, miio_burner

COMPONENT = Path(__file__).parents[1] / "custom_components/gasstove"
NUMBER = "number.kitchen_left_shut_off_in"


async def _setup(hass: HomeAssistant, burners: dict[str, Any], **options: Any) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data(burners), options=options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _toast(hass: HomeAssistant, err: HomeAssistantError) -> str:
    """The toast the frontend shows for a failed call: the exception's translation."""
    texts = await async_get_translations(hass, hass.config.language, "exceptions", {DOMAIN})
    template = texts[f"component.{DOMAIN}.exceptions.{err.translation_key}.message"]
    return template.format(**(err.translation_placeholders or {}))


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Kitchen: the shut-off of Back left was not confirmed (the relay did not answer in "
           "time). Check the stove now."),
    # was half English: "（no answer from 127.0.0.x within the deadline (2 tries)）"
    ("zh-Hans", "Kitchen：左后灶的关火没有得到确认（继电器没有及时响应），请立即检查灶具。"),
])
async def test_a_failed_shut_off_is_one_sentence_with_the_burners_name(
        hass: HomeAssistant, miio_relay: Any, language: str, expected: str) -> None:
    hass.config.language = language
    name = "Back left" if language == "en" else "左后灶"
    await _setup(hass, {"back_left": miio_burner(DEAD_HOST)}, aliases={"back_left": [name]})
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": [name]}, blocking=True)
    toast = await _toast(hass, err.value)
    # Was: "Gas stove Kitchen: the shut-off of back_left was NOT confirmed: shut-off NOT confirmed: ..."
    assert toast == expected
    assert "back_left" not in toast and TOKEN not in toast
    notification = next(iter(hass.data["persistent_notification"].values()))
    if language == "en":
        assert notification["title"] == "Gas stove shut-off FAILED"
        assert notification["message"].startswith("**Kitchen** did NOT confirm a shut-off.")
        assert "- **Back left**: the relay did not answer in time" in notification["message"]
    else:  # was entirely English
        assert notification["title"] == "燃气灶关火失败"
        assert notification["message"].startswith("**Kitchen**没有确认关火，请立即检查灶具。")
        assert "- **左后灶**：继电器没有及时响应" in notification["message"]
    issue = next(iter(ir.async_get(hass).issues.values()))
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["burner"] == name
    assert issue.translation_placeholders["message"] == (
        "the relay did not answer in time" if language == "en" else "继电器没有及时响应")


async def test_a_cut_whose_restore_failed_does_not_read_as_not_confirmed(
        hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    await _setup(hass, {"left": miio_burner(left.host)}, aliases={"left": ["左灶"]})

    async def deaf_during_the_pulse(seconds: float) -> None:
        left.device.settings.loss = 1.0  # the cut was confirmed; the restore gets no answer

    with patch.object(coordinator, "async_pulse_wait", deaf_during_the_pulse), \
            pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {}, blocking=True)
    assert not left.lit
    # Was: "the shut-off of left was NOT confirmed: shut off (confirmed in 3 ms) but the relay
    # did not restore: ...; the burner cannot be relit until `stove unlock left`".
    toast = await _toast(hass, err.value)
    assert toast == ("Kitchen: 左灶 was shut off, but the relay did not close the loop again "
                     "(the relay did not answer in time): it cannot be relit until it is "
                     "unlocked."), toast


async def test_a_late_timer_is_told_in_chinese(hass: HomeAssistant, miio_relay: Any,
                                               hass_storage: dict[str, Any]) -> None:
    left = miio_relay("left")
    hass.config.language = "zh-Hans"
    key = "gasstove.entry-late.timers"
    due = dt_util.utcnow() - timedelta(minutes=7)
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key,
                         "data": {"timers": {"left": {"due": due.isoformat(), "delay_s": 1200}}}}
    entry = MockConfigEntry(domain=DOMAIN, title="厨房", unique_id="u", entry_id="entry-late",
                            data=entry_data({"left": miio_burner(left.host)}),
                            options={"aliases": {"left": ["左灶"]}})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert not left.lit
    (notification,) = hass.data["persistent_notification"].values()
    # Was English, with the burner's key and "7m" ("The shut-off timer of **left** ...").
    assert notification["title"] == "燃气灶定时关火推迟执行"
    said = notification["message"]
    assert re.fullmatch(r"\*\*厨房\*\*的\*\*左灶\*\*的定时关火在 Home Assistant 没有运行时到期，"
                        r"已在启动时执行，晚了7分钟(\d+秒)?。", said), said


async def test_an_unknown_burner_lists_the_burners_by_name(hass: HomeAssistant, miio_relay: Any) -> None:
    left, right = miio_relay("left"), miio_relay("right_back")
    hass.config.language = "zh-Hans"
    await _setup(hass, {"left": miio_burner(left.host), "right_back": miio_burner(right.host)},
                 aliases={"left": ["左灶"]})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["middle"]}, blocking=True)
    assert await _toast(hass, err.value) == "没有这个灶眼；这个灶具有：左灶、Right back。"


@pytest.mark.parametrize(("language", "name"), [
    ("en", "Kitchen Left shut off now"),
    ("zh-Hans", "Kitchen 左灶 立即关火"),
])
async def test_entities_use_the_display_name_and_language(
        hass: HomeAssistant, miio_relay: Any, language: str, name: str) -> None:
    left = miio_relay("left")
    hass.config.language = language
    aliases = {"left": ["左灶", "左边"]} if language != "en" else {}
    await _setup(hass, {"left": miio_burner(left.host)}, aliases=aliases)
    # The entity id keeps the burner's key; the name shows what the user called it.
    assert hass.states.get("button.kitchen_left_shut_off_now").name == name


async def test_the_timer_number_shows_its_maximum_refuses_in_words_and_shows_the_real_timer(
        hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    await _setup(hass, {"left": miio_burner(left.host)}, longest_timer_minutes=120,
                 aliases={"left": ["左灶"]})
    assert hass.states.get(NUMBER).attributes["max"] == 120
    await hass.services.async_call("number", "set_value", {"entity_id": NUMBER, "value": 20}, blocking=True)
    assert hass.states.get(NUMBER).state == "20"
    for value in (500, 121):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call("number", "set_value", {"entity_id": NUMBER, "value": value},
                                           blocking=True)
        # Was HA's "Value 500 for number... is outside valid range 0 - 120.0".
        assert err.value.translation_domain == DOMAIN
        assert await _toast(hass, err.value) == (
            f"左灶: a timer of {value} minutes is longer than the longest timer allowed, 120 minutes; "
            "the timer was not changed.")
        # The box shows the timer that runs, written again after the refusal.
        assert hass.states.get(NUMBER).state == "20"
    hass.config.language = "zh-Hans"
    await async_get_translations(hass, "zh-Hans", "exceptions", {DOMAIN})
    assert await _toast(hass, err.value) == (
        "左灶：121 分钟的定时超过了允许的最长定时 120 分钟，定时没有改变。")
    await hass.services.async_call("number", "set_value", {"entity_id": NUMBER, "value": 0}, blocking=True)
    assert hass.states.get(NUMBER).state == "0"


def test_every_string_we_show_is_in_both_languages() -> None:
    """Every key of strings.json is in en.json and zh-Hans.json, with the same placeholders,
    and the Chinese text is not the English one (a copied string is an untranslated string)."""
    source = json.loads((COMPONENT / "strings.json").read_text())

    def leaves(tree: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
        if isinstance(tree, dict):
            return {k: v for key, sub in tree.items() for k, v in leaves(sub, (*path, key)).items()}
        return {path: tree}

    english = leaves(source)
    assert leaves(json.loads((COMPONENT / "translations/en.json").read_text())) == english
    chinese = leaves(json.loads((COMPONENT / "translations/zh-Hans.json").read_text()))
    assert set(chinese) == set(english)
    same_ok = {"Tasmota", "Zigbee2MQTT", "ESPHome", "- **{burner}**: {reason}"}
    for path, text in english.items():
        assert set(re.findall(r"{(\w+)}", chinese[path])) == set(re.findall(r"{(\w+)}", text)), path
        if path[0] in {"config", "options", "exceptions", "issues"} and text not in same_ok:
            assert chinese[path] != text, path


def test_every_kind_of_failure_the_library_names_has_words() -> None:
    """A failure is told from its kind (``Outcome.failure``): each kind the library can
    name has its sentence, so no toast falls back to the key or to English."""
    from gasstove.domain import errors

    kinds = {cls.kind for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.RelayError)}
    kinds |= {"busy", "not_recorded", "internal"}  # named by gasstove.control and the daemon
    exceptions = json.loads((COMPONENT / "strings.json").read_text())["exceptions"]
    assert {f"reason_{kind}" for kind in kinds} <= set(exceptions)
