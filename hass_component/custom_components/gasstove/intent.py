"""Assist intents GasStoveShutOff, GasStoveCancel and GasStoveStatus.

The sentences come from the library's grammar (``stove ha sentences`` writes
them into ``<config>/custom_sentences/``). When Home Assistant hands us the
text that matched, we parse it again with the library's ``parse_utterance``:
its turn-on guard and strict delay parser then decide, exactly as for
``stove say`` -- one grammar, one set of rules. Without the text (an intent
fired by an automation or another agent) the ``burner`` and ``delay`` slots
are used, the delay read by the same ``parse_delay``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent
from homeassistant.util import dt as dt_util

from gasstove.domain.durations import format_duration
from gasstove.domain.voice import HASS_INTENTS, parse_delay, parse_utterance

from .const import DOMAIN, INTENT_CANCEL, INTENT_SHUT_OFF, INTENT_STATUS
from .coordinator import GasStoveCoordinator
from .services import targets

_LOGGER = logging.getLogger(__name__)

_SAY: dict[str, dict[str, str]] = {
    "en": {
        "off": "Shut off: {burners}.",
        "scheduled": "{burners} will be shut off in {delay}.",
        "cancelled": "Cancelled the shut-off timer of {burners}.",
        "no_timer": "No shut-off timer was set.",
        "failed": "Warning: the shut-off of {burners} was NOT confirmed. Check the stove now.",
        "not_understood": "Sorry, I did not understand that; nothing was done.",
        "resting": "{burner} can burn",
        "cutting": "{burner} is held off",
        "unknown": "{burner} does not answer",
        "timer": ", shut-off in {left}",
        "no_stove": "No gas stove is set up.",
    },
    "zh": {
        "off": "已关火：{burners}。",
        "scheduled": "{delay}后关闭{burners}。",
        "cancelled": "已取消{burners}的定时关火。",
        "no_timer": "没有定时关火。",
        "failed": "警告：{burners}关火没有得到确认，请马上检查灶具。",
        "not_understood": "抱歉，没听懂，什么也没做。",
        "resting": "{burner}可以点火",
        "cutting": "{burner}已锁定关闭",
        "unknown": "{burner}没有响应",
        "timer": "，{left}后关火",
        "no_stove": "没有设置燃气灶。",
    },
}


def _lang(language: str | None) -> Literal["zh", "en"]:
    return "zh" if (language or "").lower().startswith("zh") else "en"


def _burner_aliases(hass: HomeAssistant) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    coordinator: GasStoveCoordinator
    for coordinator in hass.data.get(DOMAIN, {}).values():
        for name, burner in coordinator.config.burners.items():
            words.setdefault(name, []).extend(burner.aliases)
    return words


class _GasStoveIntent(intent.IntentHandler):
    slot_schema: ClassVar[dict[Any, Any]] = {
        vol.Optional("burner"): cv.string, vol.Optional("delay"): cv.string}

    def _command(self, intent_obj: intent.Intent) -> tuple[str | None, int | None, bool]:
        """(burner word, delay seconds, understood) for this intent."""
        lang = _lang(intent_obj.language)
        text = getattr(intent_obj, "text_input", None)
        if text:
            command = parse_utterance(text, lang=lang, burners=_burner_aliases(intent_obj.hass))
            if command.intent is None or command.intent != HASS_INTENTS[self.intent_type or ""]:
                return None, None, False
            return command.burner, command.delay_s, True
        slots = self.async_validate_slots(intent_obj.slots)
        burner = slots.get("burner", {}).get("value")
        delay_s = None
        if "delay" in slots:
            delay_s = parse_delay(str(slots["delay"]["value"]), lang)
            if delay_s is None:
                return None, None, False
        return burner, delay_s, True

    def _respond(self, intent_obj: intent.Intent, key: str, **values: Any) -> intent.IntentResponse:
        response = intent_obj.create_response()
        response.async_set_speech(_SAY[_lang(intent_obj.language)][key].format(**values))
        return response

    @staticmethod
    def _join(names: list[str], lang: str) -> str:
        return ("、" if lang == "zh" else ", ").join(names)

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        burner, delay_s, understood = self._command(intent_obj)
        if not understood:
            return self._respond(intent_obj, "not_understood")
        chosen = targets(intent_obj.hass, None, [burner] if burner else None)
        return await self._act(intent_obj, _lang(intent_obj.language), chosen, delay_s)

    async def _act(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                   chosen: list[tuple[GasStoveCoordinator, list[str]]],
                   delay_s: int | None) -> intent.IntentResponse:
        raise NotImplementedError


class ShutOffIntent(_GasStoveIntent):
    intent_type = INTENT_SHUT_OFF

    async def _act(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                   chosen: list[tuple[GasStoveCoordinator, list[str]]],
                   delay_s: int | None) -> intent.IntentResponse:
        names = [b for _, burners in chosen for b in burners]
        if delay_s:
            for coordinator, burners in chosen:
                await coordinator.async_schedule(burners, delay_s, source="assist")
            return self._respond(intent_obj, "scheduled", burners=self._join(names, lang),
                                 delay=format_duration(delay_s))
        try:
            for coordinator, burners in chosen:
                await coordinator.async_shut_off(burners, source="assist")
        except HomeAssistantError:
            # Already reported (event, notification, log); say it out loud too.
            return self._respond(intent_obj, "failed", burners=self._join(names, lang))
        return self._respond(intent_obj, "off", burners=self._join(names, lang))


class CancelIntent(_GasStoveIntent):
    intent_type = INTENT_CANCEL

    async def _act(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                   chosen: list[tuple[GasStoveCoordinator, list[str]]],
                   delay_s: int | None) -> intent.IntentResponse:
        cancelled: list[str] = []
        for coordinator, burners in chosen:
            cancelled += await coordinator.async_cancel(burners)
        if not cancelled:
            return self._respond(intent_obj, "no_timer")
        return self._respond(intent_obj, "cancelled", burners=self._join(cancelled, lang))


class StatusIntent(_GasStoveIntent):
    intent_type = INTENT_STATUS

    async def _act(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                   chosen: list[tuple[GasStoveCoordinator, list[str]]],
                   delay_s: int | None) -> intent.IntentResponse:
        say = _SAY[lang]
        parts: list[str] = []
        for coordinator, burners in chosen:
            await coordinator.async_refresh()
            for name in burners:
                data = (coordinator.data or {}).get(name)
                part = say[data.state if data else "unknown"].format(burner=name)
                if timer := coordinator.timers.get(name):
                    left = max(1, round((timer.due - dt_util.utcnow()).total_seconds()))
                    part += say["timer"].format(left=format_duration(left))
                parts.append(part)
        response = intent_obj.create_response()
        sep, end = ("；", "。") if lang == "zh" else ("; ", ".")
        response.async_set_speech(sep.join(parts) + end)
        return response


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Called by Home Assistant's ``intent`` integration, which loads ``intent.py``
    of every integration as an intent platform (and awaits this)."""
    for handler in (ShutOffIntent(), CancelIntent(), StatusIntent()):
        intent.async_register(hass, handler)
