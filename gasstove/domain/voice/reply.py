"""What is said back to a voice command: what was understood and what happened.

One set of words for every voice front end: Home Assistant's Assist (its intent
handlers), the daemon's MQTT ``say`` topic and ``stove say``. Pure: it turns the
daemon's per-burner results into one sentence in the utterance's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from ..durations import spoken_duration
from .grammar import VoiceCommand

Lang = Literal["zh", "en"]

REPLIES: Mapping[Lang, Mapping[str, str]] = {
    "en": {
        "off": "OK, {burners} shut off.",
        "scheduled": "OK, {burners} will be shut off in {delay}.",
        "not_scheduled": "Warning: the shut-off timer of {burners} was NOT set: {error}",
        "cancelled": "Cancelled the shut-off timer of {burners}.",
        "no_timer": "No shut-off timer was set.",
        "too_late": "Too late to cancel: the shut-off of {burners} is under way.",
        "snoozed": "OK, the automatic shut-off of {burners} waits {delay} more.",
        "snooze_bounded": "OK, but {burners} may burn only {delay} more: its maximum burn "
                          "time is the limit.",
        "no_warning": "No automatic shut-off is coming, so there is nothing to push back.",
        "max_burn_reached": "it has reached its maximum burn time",
        "lit": "{burner} is still lit",
        "out": "{burner} is out",
        "no_flame": ", lit or not I cannot know (no flame sensor)",
        "flame_silent": ", lit or not I cannot tell yet (its flame sensor has said nothing)",
        "not_snoozed": "The automatic shut-off of {burners} was NOT held off: {error}",
        "failed": "Warning: the shut-off of {burners} was NOT confirmed. Check the stove now.",
        "error": "Sorry, that was not done: {error}",
        "not_understood": "Sorry, I did not understand that; nothing was done.",
        "resting": "{burner} can burn",
        "cutting": "{burner} is held off",
        "unknown": "{burner} does not answer",
        "timer": ", shut-off in {left}",
        "no_stove": "No gas stove is set up.",
    },
    "zh": {
        "off": "好的，{burners}已关火。",
        "scheduled": "好的，{burners}{delay}后关火。",
        "not_scheduled": "警告：{burners}的定时关火没有设上：{error}",
        "cancelled": "已取消{burners}的定时关火。",
        "no_timer": "没有定时关火。",
        "too_late": "来不及取消了：{burners}正在关火。",
        "snoozed": "好的，{burners}的自动关火推迟{delay}。",
        "snooze_bounded": "好的，但{burners}最多还能烧{delay}：到了最长燃烧时间。",
        "no_warning": "现在没有要自动关火的，不用推迟。",
        "max_burn_reached": "已到最长燃烧时间",
        "lit": "{burner}还亮着",
        "out": "{burner}已经灭了",
        "no_flame": "，有没有点着无法知道（没有火焰传感器）",
        "flame_silent": "，有没有点着还不知道（火焰传感器还没有报告）",
        "not_snoozed": "{burners}的自动关火没有推迟：{error}",
        "failed": "警告：{burners}的关火没有得到确认，请马上检查灶具。",
        "error": "抱歉，没有做成：{error}",
        "not_understood": "抱歉，没听懂，什么也没做。",
        "resting": "{burner}可以点火",
        "cutting": "{burner}已锁定关闭",
        "unknown": "{burner}没有响应",
        "timer": "，{left}后关火",
        "no_stove": "没有设置燃气灶。",
    },
}


def say(lang: Lang, key: str, **values: Any) -> str:
    return REPLIES[lang][key].format(**values)


def join_names(names: Sequence[str], lang: Lang) -> str:
    """"Left, Right" or "左灶、右灶"."""
    return ("、" if lang == "zh" else ", ").join(names)


def status_sentence(parts: Sequence[str], lang: Lang) -> str:
    sep, end = ("；", "。") if lang == "zh" else ("; ", ".")
    return sep.join(parts) + end


def reply(command: VoiceCommand, results: Sequence[Mapping[str, Any]] | None, lang: Lang,
          name: Callable[[str], str], *, error: str | None = None) -> str:
    """The sentence for ``command`` given the daemon's per-burner ``results`` (see
    ``Daemon.handle``), or the ``error`` that stopped it. ``name`` shows a burner the
    way people call it (its first alias). Never "OK" for what was not confirmed."""
    if command.intent is None:
        return say(lang, "not_understood")
    rows = list(results or [])
    every = join_names([name(r["burner"]) for r in rows], lang)

    def names(ok: bool) -> str:
        return join_names([name(r["burner"]) for r in rows if bool(r["ok"]) is ok], lang)

    if command.intent == "shut_off":
        if command.delay_s is not None:
            if error is not None or not rows or not all(r["ok"] for r in rows):
                return say(lang, "not_scheduled", burners=every or _all(lang),
                           error=error or "")
            return say(lang, "scheduled", burners=every,
                       delay=spoken_duration(command.delay_s, lang))
        if error is not None or not rows:
            return say(lang, "failed", burners=every or _all(lang))
        # a confirmed cut whose restore failed still put the gas out
        if failed := join_names([name(r["burner"]) for r in rows
                                 if not r["ok"] and r.get("cut_ms") is None], lang):
            return say(lang, "failed", burners=failed)
        return say(lang, "off", burners=every)
    if error is not None:
        return say(lang, "error", error=error)
    if command.intent == "cancel":
        late = names(False)
        cancelled = join_names([name(r["burner"]) for r in rows if r["ok"]
                                and str(r.get("message", "")).startswith("timer cancelled")],
                               lang)
        said = [say(lang, "too_late", burners=late)] if late else []
        if cancelled:
            said.insert(0, say(lang, "cancelled", burners=cancelled))
        return " ".join(said) if said else say(lang, "no_timer")
    if command.intent == "snooze":
        assert command.delay_s is not None
        said = []
        if held := names(True):
            said.append(say(lang, "snoozed", burners=held,
                            delay=spoken_duration(command.delay_s, lang)))
        for r in rows:
            if not r["ok"]:
                said.append(say(lang, "not_snoozed", burners=name(r["burner"]),
                                error=r.get("message", "")))
        return " ".join(said)
    return status_sentence([status_part(r, lang, name) for r in rows], lang)


def status_part(result: Mapping[str, Any], lang: Lang, name: Callable[[str], str]) -> str:
    """What "is the stove on?" says of one burner, from its status answer (``relay``,
    ``flame``: lit, out, unknown or no_input, ``timer``): lit or out where its flame input
    says so, and that it cannot know where there is none or it has said nothing yet."""
    relay, flame = result.get("relay"), result.get("flame")
    shown = name(result["burner"])
    if relay == "resting" and flame in ("lit", "out"):
        part = say(lang, flame, burner=shown)
    else:
        part = say(lang, relay if relay in ("resting", "cutting") else "unknown", burner=shown)
    if timer := result.get("timer"):
        part += say(lang, "timer", left=spoken_duration(max(1, timer["in_s"]), lang))
    if relay == "resting" and flame == "no_input":
        part += say(lang, "no_flame")
    elif relay == "resting" and flame in ("unknown", "no_daemon"):
        part += say(lang, "flame_silent")
    return part


def _all(lang: Lang) -> str:
    return "所有灶" if lang == "zh" else "every burner"
