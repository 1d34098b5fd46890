"""What is said back to a voice command (domain/voice/reply.py): what was understood and
what happened, never "OK" for what was not confirmed."""

from __future__ import annotations

from typing import Any

from gasstove.domain.voice import VoiceCommand
from gasstove.domain.voice.reply import reply

NAMES = {"left": "左灶", "right": "Right"}.__getitem__


def _row(burner: str, ok: bool, **more: Any) -> dict[str, Any]:
    return {"burner": burner, "ok": ok, "message": "", **more}


def test_a_shut_off_is_ok_only_when_confirmed() -> None:
    now = VoiceCommand("shut_off", None, None)
    assert reply(now, [_row("left", True), _row("right", True)], "en", NAMES) == \
        "OK, 左灶, Right shut off."
    # one not confirmed: the warning names it, and only it
    assert reply(now, [_row("left", True), _row("right", False)], "zh", NAMES) == \
        "警告：Right的关火没有得到确认，请马上检查灶具。"
    # a confirmed cut whose restore failed still put the gas out
    assert reply(now, [_row("left", False, cut_ms=40)], "en", NAMES) == "OK, 左灶 shut off."
    # refused before any result (an unknown burner, a daemon error): a failure, never OK
    assert reply(now, None, "en", NAMES, error="no burner 'x'").startswith(
        "Warning: the shut-off of every burner was NOT confirmed")


def test_a_timer_not_stored_is_said_as_not_set() -> None:
    later = VoiceCommand("shut_off", 600, "left")
    assert reply(later, [_row("left", True)], "zh", NAMES) == "好的，左灶10分钟后关火。"
    assert reply(later, None, "en", NAMES, error="database is locked") == \
        "Warning: the shut-off timer of every burner was NOT set: database is locked"


def test_cancel_says_which_timers_went_and_which_were_too_late() -> None:
    cancel = VoiceCommand("cancel", None, None)
    rows = [_row("left", True, message="timer cancelled (was due 18:00)"),
            _row("right", False, message="too late: the timer's shut-off is under way")]
    assert reply(cancel, rows, "en", NAMES) == (
        "Cancelled the shut-off timer of 左灶. "
        "Too late to cancel: the shut-off of Right is under way.")
    assert reply(cancel, [_row("left", True, message="no timer was pending")], "zh", NAMES) == \
        "没有定时关火。"


def test_status_says_each_burner_and_its_time_left() -> None:
    status = VoiceCommand("status", None, None)
    rows = [_row("left", True, relay="resting", timer={"in_s": 599.6}),
            _row("right", False, relay="unknown", timer=None)]
    assert reply(status, rows, "zh", NAMES) == "左灶可以点火，10分钟后关火；Right没有响应。"


def test_not_understood_says_nothing_was_done() -> None:
    nothing = VoiceCommand(None, None, None)
    assert reply(nothing, None, "zh", NAMES) == "抱歉，没听懂，什么也没做。"
    assert reply(nothing, None, "en", NAMES) == "Sorry, I did not understand that; nothing was done."


def test_is_the_stove_on_says_lit_or_out_from_the_flame_input_and_never_guesses() -> None:
    """Through `stove serve` ("flame" per burner) as in Home Assistant: a flame input that
    has said nothing yet is not taken for "can burn" alone."""
    status = VoiceCommand("status", None, None)
    rows = [_row("left", True, relay="resting", flame="lit", timer={"in_s": 300}),
            _row("right", True, relay="resting", flame="out", timer=None)]
    assert reply(status, rows, "zh", NAMES) == "左灶还亮着，5分钟后关火；Right已经灭了。"
    rows = [_row("left", True, relay="resting", flame="unknown"),
            _row("right", True, relay="resting", flame="no_input")]
    assert reply(status, rows, "en", NAMES) == (
        "左灶 can burn, lit or not I cannot tell yet (its flame sensor has said nothing); "
        "Right can burn, lit or not I cannot know (no flame sensor).")
    rows = [_row("left", True, relay="cutting", flame="lit")]  # held off: the relay says more
    assert reply(status, rows, "en", NAMES) == "左灶 is held off."
