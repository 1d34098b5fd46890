"""Assist end to end, as a user's Home Assistant has it: the sentence files written by
`stove ha sentences`, the conversation integration with home-assistant-intents (HA's own
sentences, its timers and "do X in 5 minutes" delayed commands), then conversation.process.

Each spoken sentence must reach gasstove's intent and do what it says (a burner cut, a
timer armed, a status answered), never HA's timer or delayed-command intent; a sentence
gasstove will not act on must not be confirmed by anything (issue 13 item 10: on HA 2025.4
"stop the left burner in 5 minutes" was answered "Command will be executed in 5 minutes"
by HA and nothing happened).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from unittest.mock import patch

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant.components.intent.const import TIMER_DATA
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from gasstove.cli.ha import write_sentences

from .conftest import DEAD_HOST, SimRelay, entry_data, miio_burner

OURS = {"GasStoveShutOff", "GasStoveCancel", "GasStoveStatus", "GasStoveSnooze"}


class Assist(NamedTuple):
    left: SimRelay
    right: SimRelay
    handled: list[str]  #: intent types HA handled, in order


@pytest.fixture
async def assist(hass: HomeAssistant, miio_relay: Any, tmp_path: Path) -> AsyncIterator[Assist]:
    left, right = miio_relay("left"), miio_relay("right")
    hass.config.config_dir = str(tmp_path)
    # As `stove ha sentences` writes them: the entry's burners and aliases. The first alias
    # is the name a burner is shown and answered by.
    aliases = {"left": ["左灶", "左边", "left burner"], "right": ["右灶", "右边"]}
    written = write_sentences(tmp_path, aliases)
    assert {p.parent.name for p in written} == {"en", "zh-cn", "zh-CN"}
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u", data=entry_data(
        {"left": miio_burner(left.host), "right": miio_burner(right.host)}),
        options={"aliases": aliases})
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    handled: list[str] = []
    real_handle = intent.async_handle

    async def spy(hass: HomeAssistant, platform: str, intent_type: str, *args: Any,
                  **kwargs: Any) -> intent.IntentResponse:
        handled.append(intent_type)
        return await real_handle(hass, platform, intent_type, *args, **kwargs)

    with patch.object(intent, "async_handle", spy):
        yield Assist(left, right, handled)


async def _say(hass: HomeAssistant, text: str, language: str) -> dict[str, Any]:
    result = await hass.services.async_call(
        "conversation", "process", {"text": text, "language": language}, blocking=True,
        return_response=True)
    assert result is not None
    response: dict[str, Any] = result["response"]
    return response


def _speech(response: dict[str, Any]) -> str:
    speech: str = response["speech"]["plain"]["speech"]
    return speech


def _due(hass: HomeAssistant, burner: str) -> datetime | None:
    state = hass.states.get(f"sensor.kitchen_{burner}_scheduled_shut_off")
    assert state is not None
    return dt_util.parse_datetime(state.state)


def _ha_timers(hass: HomeAssistant) -> list[str]:
    """Commands HA's own timers would run later (its delayed-command intent)."""
    return [t.conversation_command or t.name or "" for t in hass.data[TIMER_DATA].timers.values()]


# (sentence, language, what must happen). "cut X": burner X is out now; "timer X N":
# X will be shut off in N s; "status"/"cancel": answered by gasstove, nothing changed.
SPOKEN = [
    # English: the verbs and orders of HA's own HassTurnOff/valve sentences
    # ("<turn> off <name>", "[<turn>] <name> [to] off", "deactivate <name>", "<close> <name>")
    # and of its delayed commands ("X in <duration>", "in <duration> X").
    ("stop the left burner in 5 minutes", "en", "timer left 300"),
    ("Stop the left burner in 5 minutes.", "en", "timer left 300"),
    ("in 5 minutes turn off the left burner", "en", "timer left 300"),
    ("switch the left burner off in ten minutes", "en", "timer left 600"),
    ("put out the left burner in 10 minutes", "en", "timer left 600"),
    ("put the stove out in 20 minutes", "en", "timer all 1200"),
    ("kill the stove in half an hour", "en", "timer all 1800"),
    ("shut the gas off in an hour", "en", "timer all 3600"),
    ("turn the stove off after 15 minutes", "en", "timer all 900"),
    ("deactivate the right burner in 5 minutes", "en", "timer right 300"),
    ("stop the stove now", "en", "cut all"),
    ("turn off the left burner right away", "en", "cut left"),
    ("shut off the gas immediately", "en", "cut all"),
    ("stop the right burner", "en", "cut right"),
    ("close the gas", "en", "cut all"),
    ("turn the stove off", "en", "cut all"),
    ("kill the left burner now please", "en", "cut left"),
    ("when will the stove turn off", "en", "status"),
    ("what time will the left burner go off", "en", "status"),
    ("how long until the stove turns off", "en", "status"),
    ("how much time is left on the stove", "en", "status"),
    # Chinese: HA's zh-cn "<turn_off>{name}", "[把|将|让]{name}<turn_off>" with
    # (关闭|关掉|关了|关), "<duration>后<command>", plus the orders people use.
    ("五分钟后关火", "zh-cn", "timer all 300"),
    ("五分钟后关火。", "zh-cn", "timer all 300"),
    ("左边的火五分钟后关", "zh-cn", "timer left 300"),
    ("五分钟之后把左边关掉", "zh-cn", "timer left 300"),
    ("十分钟后关闭燃气灶", "zh-cn", "timer all 600"),
    ("半小时以后把右边的火灭了", "zh-cn", "timer right 1800"),
    ("过二十分钟关掉左边的灶", "zh-cn", "timer left 1200"),
    ("5分钟后关掉左边的火", "zh-cn", "timer left 300"),
    ("10分钟后关闭燃气灶", "zh-cn", "timer all 600"),
    ("马上关火", "zh-cn", "cut all"),
    ("立刻关掉燃气灶", "zh-cn", "cut all"),
    ("赶紧把火灭了", "zh-cn", "cut all"),
    ("把左边的火熄灭", "zh-cn", "cut left"),
    ("把左边关了", "zh-cn", "cut left"),
    ("关掉右边", "zh-cn", "cut right"),
    ("关闭右边的灶", "zh-cn", "cut right"),
    ("还有多久关火", "zh-cn", "status"),
    ("炉子几点关", "zh-cn", "status"),
    ("燃气灶什么时候关", "zh-cn", "status"),
    ("左边的火还有几分钟关", "zh-cn", "status"),
    ("左边关了吗", "zh-cn", "status"),
]

# Stove sentences gasstove does not act on: nobody may say they will happen.
REFUSED = [
    ("turn on the stove in 5 minutes", "en"),
    ("light the left burner in 10 minutes", "en"),
    ("turn off the stove in 30 hours", "en"),
    ("turn off the stove in a bit", "en"),
    ("stop the middle burner in 5 minutes", "en"),
    ("in 5 minutes relight the stove", "en"),
    ("五分钟后打开燃气灶", "zh-cn"),
    ("三十个小时后关火", "zh-cn"),
    ("过一会儿关火", "zh-cn"),
    ("五分钟后关掉中间的火", "zh-cn"),
    ("十分钟后点火", "zh-cn"),
    ("5分钟后打开燃气灶", "zh-cn"),
    ("10分钟后点火", "zh-cn"),
    ("5分钟后关掉中间的火", "zh-cn"),
]


def _assert_nothing_changed(hass: HomeAssistant, assist: Assist) -> None:
    assert assist.left.lit and assist.right.lit
    assert _due(hass, "left") is None and _due(hass, "right") is None


@pytest.mark.parametrize(("text", "language", "expected"), SPOKEN, ids=[s[0] for s in SPOKEN])
async def test_spoken_sentence_reaches_gasstove(hass: HomeAssistant, assist: Assist, text: str,
                                                language: str, expected: str) -> None:
    response = await _say(hass, text, language)
    speech = _speech(response)
    assert assist.handled and set(assist.handled) <= OURS, (assist.handled, speech)
    assert _ha_timers(hass) == [], speech
    assert response["response_type"] == "action_done", speech
    what, *args = expected.split()
    burners = ["left", "right"] if args and args[0] == "all" else args[:1]
    if what == "cut":
        assert assist.handled == ["GasStoveShutOff"], speech
        assert all(not getattr(assist, b).lit for b in burners), speech
        assert all(getattr(assist, b).lit for b in {"left", "right"} - set(burners)), speech
    elif what == "timer":
        assert assist.handled == ["GasStoveShutOff"], speech
        for burner in ("left", "right"):
            due = _due(hass, burner)
            if burner in burners:
                assert due is not None, speech
                assert abs((due - dt_util.utcnow()).total_seconds() - int(args[1])) < 5, speech
            else:
                assert due is None, speech
        assert assist.left.lit and assist.right.lit
    else:
        assert assist.handled == ["GasStoveStatus"], speech
        _assert_nothing_changed(hass, assist)


@pytest.mark.parametrize(("text", "language"), REFUSED, ids=[s[0] for s in REFUSED])
async def test_no_false_confirmation(hass: HomeAssistant, assist: Assist, text: str,
                                     language: str) -> None:
    response = await _say(hass, text, language)
    speech = _speech(response)
    assert _ha_timers(hass) == [], speech
    assert "HassStartTimer" not in assist.handled, speech
    assert response["response_type"] == "error", speech
    _assert_nothing_changed(hass, assist)


SNOOZES = [("five more minutes", "en", "No automatic shut-off is coming, so there is nothing to push back.",
            "OK, the automatic shut-off of 左灶 waits 5 minutes more."),
           ("再等五分钟", "zh-cn", "现在没有要自动关火的，不用推迟。", "好的，左灶的自动关火推迟5分钟。")]


@pytest.mark.parametrize(("text", "language", "no_warning", "snoozed"), SNOOZES,
                         ids=[s[0] for s in SNOOZES])
async def test_a_snooze_pushes_back_the_warned_shut_off_and_says_so_when_none_is(
        hass: HomeAssistant, assist: Assist, text: str, language: str, no_warning: str,
        snoozed: str) -> None:
    """The stove guard's snooze in Home Assistant: only a warned shut-off is pushed back; with
    no warning standing the answer says so, and nothing changes (a 20-minute timer stays)."""
    await _say(hass, "turn off the left burner in 20 minutes", "en")
    due = _due(hass, "left")
    assert due is not None
    response = await _say(hass, text, language)
    assert (response["response_type"], _speech(response)) == ("action_done", no_warning)
    assert assist.handled[-1] == "GasStoveSnooze"
    assert _due(hass, "left") == due
    # A timer a minute away is warned of at once (warn_before 60 s): now it is pushed back.
    await _say(hass, "turn off the left burner in 1 minute", "en")
    response = await _say(hass, text, language)
    assert (response["response_type"], _speech(response)) == ("action_done", snoozed)
    due = _due(hass, "left")
    assert due is not None and abs((due - dt_util.utcnow()).total_seconds() - 300) < 5
    assert assist.left.lit and assist.right.lit


async def _ask_is_it_on(hass: HomeAssistant, language: str, left_flame: str) -> str:
    """Give the left burner a flame input whose state is ``left_flame``; what Assist says."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    hass.states.async_set("binary_sensor.left_flame", left_flame)
    hass.config_entries.async_update_entry(entry, options={
        **entry.options, "flame": {"left": {"flame_entity": "binary_sensor.left_flame"}}})
    await hass.async_block_till_done()  # reloaded with it
    return _speech(await _say(hass, "is the stove on" if language == "en" else "燃气灶关了吗",
                              language))


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "左灶 is still lit; 右灶 can burn, lit or not I cannot know (no flame sensor)."),
    ("zh-cn", "左灶还亮着；右灶可以点火，有没有点着无法知道（没有火焰传感器）。"),
])
async def test_is_the_stove_on_answers_from_the_flame_input(
        hass: HomeAssistant, assist: Assist, language: str, expected: str) -> None:
    assert await _ask_is_it_on(hass, language, "on") == expected
    hass.states.async_set("binary_sensor.left_flame", "off")
    await hass.async_block_till_done()
    assert _speech(await _say(hass, "is the stove on" if language == "en" else "燃气灶关了吗",
                              language)).startswith(
        "左灶 is out;" if language == "en" else "左灶已经灭了；")


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "左灶 can burn, lit or not I cannot tell yet (its flame sensor has said nothing)"),
    ("zh-cn", "左灶可以点火，有没有点着还不知道（火焰传感器还没有报告）"),
])
async def test_a_flame_input_that_has_said_nothing_is_not_taken_for_out(
        hass: HomeAssistant, assist: Assist, language: str, expected: str) -> None:
    assert (await _ask_is_it_on(hass, language, "unavailable")).startswith(expected)


async def test_assist_cannot_unlock_a_hazard_lock(hass: HomeAssistant, assist: Assist) -> None:
    """Only a person unlocks after a hazard alarm: there is no unlock sentence of ours, and
    Home Assistant's own "unlock" does not reach the stove's locks."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    hass.states.async_set("binary_sensor.smoke", "off", {"device_class": "smoke"})
    hass.config_entries.async_update_entry(entry, options={
        **entry.options, "hazard_entities": ["binary_sensor.smoke"]})
    await hass.async_block_till_done()
    hass.states.async_set("binary_sensor.smoke", "on", {"device_class": "smoke"})
    await hass.async_block_till_done()
    assert not assist.left.lit and not assist.right.lit
    hass.states.async_set("binary_sensor.smoke", "off", {"device_class": "smoke"})
    await hass.async_block_till_done()
    for text, language in [("unlock the stove", "en"), ("unlock the left burner", "en"),
                           ("unlock Kitchen 左灶 lock", "en"), ("解锁燃气灶", "zh-cn"),
                           ("打开左灶", "zh-cn")]:
        await _say(hass, text, language)
        await hass.async_block_till_done()
        assert hass.states.get("lock.kitchen_left_lock").state == "locked", text
        assert hass.states.get("lock.kitchen_right_lock").state == "locked", text


async def test_other_delayed_commands_stay_home_assistants(hass: HomeAssistant,
                                                          assist: Assist) -> None:
    """gasstove takes stove sentences only: HA still runs "turn off the light in 5 minutes"."""
    await _say(hass, "turn off the kitchen light in 5 minutes", "en")
    await _say(hass, "turn off the stove light in 5 minutes", "en")
    await _say(hass, "5分钟后关灯", "zh-cn")
    assert not set(assist.handled) & OURS
    assert sorted(_ha_timers(hass)) == ["turn off the kitchen light", "turn off the stove light", "关灯"]


async def test_timer_then_cancel_then_status(hass: HomeAssistant, assist: Assist) -> None:
    speech = _speech(await _say(hass, "turn off the left burner in 20 minutes", "en"))
    # Durations as said, burners by their names: "20m" is "twenty metres" to a speech engine.
    assert speech == "OK, 左灶 will be shut off in 20 minutes.", speech
    assert _due(hass, "left") is not None
    speech = _speech(await _say(hass, "when will the stove turn off", "en"))
    assert "shut-off in 20 minutes" in speech, speech
    speech = _speech(await _say(hass, "cancel the stove timer", "en"))
    assert speech == "Cancelled the shut-off timer of 左灶.", speech
    assert _due(hass, "left") is None
    speech = _speech(await _say(hass, "turn off the stove", "en"))
    assert speech == "OK, 左灶, 右灶 shut off.", speech
    assert not assist.left.lit and not assist.right.lit


@pytest.mark.parametrize("language", ["zh-cn", "zh-CN"])
async def test_chinese(hass: HomeAssistant, assist: Assist, language: str) -> None:
    # Natural Chinese: the burners' own names and a spoken duration, never "20m后关闭left".
    speech = _speech(await _say(hass, "二十分钟后关火", language))
    assert speech == "好的，左灶、右灶20分钟后关火。", speech
    speech = _speech(await _say(hass, "十分钟后关掉左边的火", language))
    assert speech == "好的，左灶10分钟后关火。", speech
    speech = _speech(await _say(hass, "还有多久关火", language))
    assert "左灶可以点火，10分钟后关火" in speech, speech
    assert _speech(await _say(hass, "取消定时关火", language)) == "已取消左灶、右灶的定时关火。"
    speech = _speech(await _say(hass, "关掉左边的火", language))
    assert speech == "好的，左灶已关火。", speech
    assert not assist.left.lit and assist.right.lit


async def test_grammar_is_read_off_the_event_loop(hass: HomeAssistant, assist: Assist) -> None:
    """The grammar files are read (once) and matched in an executor thread, never on
    HA's event loop (HA logs "Detected blocking call to read_text ... inside the event loop")."""
    import threading

    from gasstove.domain.voice import grammar

    grammar._templates.cache_clear()
    grammar._intents.cache_clear()
    loop_thread = threading.get_ident()
    readers: list[int] = []
    real_read_text = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.parent.name == "sentences" and self.parent.parent.name == "voice":
            readers.append(threading.get_ident())
        return real_read_text(self, *args, **kwargs)

    with patch.object(Path, "read_text", read_text):
        await _say(hass, "turn off the left burner", "en")
    assert readers and loop_thread not in readers
    assert not assist.left.lit


@pytest.mark.parametrize(("language", "lang"), [("en", "en"), ("zh-cn", "zh")])
def test_our_rules_leave_home_assistants_alone(language: str, lang: str) -> None:
    """HA merges custom sentence files into its own sentences: a list or expansion rule
    of ours with one of HA's names would replace HA's (e.g. zh-cn "close", which HA's
    own cover and valve sentences use)."""
    from home_assistant_intents import get_intents

    from gasstove.domain.voice import sentence_data

    home_assistants = get_intents(language)
    assert home_assistants is not None
    ours = sentence_data(lang)  # type: ignore[arg-type]
    for key in ("lists", "expansion_rules"):
        assert not set(ours[key]) & set(home_assistants.get(key, {})), key


async def test_unconfirmed_cut_is_said_as_a_failure(hass: HomeAssistant, tmp_path: Path,
                                                    loopback_sockets: None) -> None:
    hass.config.config_dir = str(tmp_path)
    write_sentences(tmp_path, {"left": []})
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data({"left": miio_burner(DEAD_HOST)}, deadline=0.5))
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    response = await _say(hass, "turn off the stove now", "en")
    assert response["response_type"] == "error"
    assert "NOT confirmed" in _speech(response)
    assert _ha_timers(hass) == []


async def test_no_stove_set_up(hass: HomeAssistant, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    write_sentences(tmp_path, {})
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    for text, language in [("stop the stove in 5 minutes", "en"), ("5分钟后关火", "zh-cn")]:
        response = await _say(hass, text, language)
        assert response["response_type"] == "error", _speech(response)
        assert _ha_timers(hass) == []
