"""Assist intents GasStoveShutOff, GasStoveCancel, GasStoveStatus, GasStoveSnooze and
GasStoveNotUnderstood.

The sentences come from the library's grammar (``stove ha sentences`` writes
them into ``<config>/custom_sentences/``). Home Assistant prefers a custom
sentence to its own whenever both match (its default agent ranks custom
sentences first), so a stove sentence of that grammar never reaches HA's timer
or delayed-command intent. GasStoveNotUnderstood is the grammar's net for the
stove sentences HA would otherwise answer with its delayed command ("Command
will be executed in 5 minutes") and then do nothing.

When Home Assistant hands us the text that matched, we parse it again with the
library's ``parse_utterance`` (off the event loop: it reads the grammar files
once and matches with hassil): its turn-on guard and strict delay parser then
decide, exactly as for ``stove say`` -- one grammar, one set of rules. Anything
it does not understand is answered as an error and nothing is done. Without the
text (an intent fired by an automation or another agent) the ``burner`` and
``delay`` slots are used, the delay read by the same ``parse_delay``.

"Five more minutes" / "再等五分钟" snoozes the stove guard (guard.py) for the burners
whose shut-off warning stands; with none standing it says so and does nothing. "Is
the stove on?" answers per burner from its flame input ("The left burner is still
lit"), and says it cannot know for a burner without one. There is no unlock by voice:
after a hazard lock only a person unlocks (the lock entity, gasstove.unlock).
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Literal

import voluptuous as vol
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent
from homeassistant.util import dt as dt_util

from gasstove import (
    HASS_INTENTS,
    NOT_UNDERSTOOD_INTENT,
    REPLIES,
    VoiceCommand,
    flame_word,
    join_names,
    parse_delay,
    parse_utterance,
    spoken_duration,
    status_part,
    status_sentence,
)

from .const import DOMAIN
from .coordinator import GasStoveCoordinator, loaded_coordinators
from .services import targets


def _lang(language: str | None) -> Literal["zh", "en"]:
    return "zh" if (language or "").lower().startswith("zh") else "en"


def _burner_aliases(hass: HomeAssistant) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    coordinator: GasStoveCoordinator
    for coordinator in loaded_coordinators(hass):
        for name, burner in coordinator.config.burners.items():
            words.setdefault(name, []).extend(burner.aliases)
    return words


class GasStoveIntent(intent.IntentHandler):
    """One handler per intent name; what is done is decided by :meth:`_command`."""

    slot_schema: ClassVar[dict[Any, Any]] = {
        vol.Optional("burner"): cv.string, vol.Optional("delay"): cv.string}

    def __init__(self, intent_type: str) -> None:
        self.intent_type = intent_type

    async def _command(self, intent_obj: intent.Intent) -> VoiceCommand | None:
        """The command this intent asks for, or None: not understood, do nothing."""
        lang = _lang(intent_obj.language)
        expected = HASS_INTENTS.get(self.intent_type or "")
        if text := getattr(intent_obj, "text_input", None):
            command: VoiceCommand = await intent_obj.hass.async_add_executor_job(partial(
                parse_utterance, text, lang=lang, burners=_burner_aliases(intent_obj.hass)))
            # HA's match and ours must agree; GasStoveNotUnderstood (expected None)
            # takes whatever the library understands.
            if command.intent is None or expected not in (None, command.intent):
                return None
            return command
        if expected is None:
            return None
        slots = self.async_validate_slots(intent_obj.slots)
        delay_s = None
        if "delay" in slots:
            delay_s = parse_delay(str(slots["delay"]["value"]), lang)
            if delay_s is None:
                return None
        return VoiceCommand(intent=expected, delay_s=delay_s,
                            burner=slots.get("burner", {}).get("value"))

    @staticmethod
    def _say(intent_obj: intent.Intent, key: str, **values: Any) -> str:
        return REPLIES[_lang(intent_obj.language)][key].format(**values)

    def _respond(self, intent_obj: intent.Intent, key: str, **values: Any) -> intent.IntentResponse:
        response = intent_obj.create_response()
        response.async_set_speech(self._say(intent_obj, key, **values))
        return response

    def _refuse(self, intent_obj: intent.Intent, key: str,
                code: intent.IntentResponseErrorCode = intent.IntentResponseErrorCode.NO_INTENT_MATCH,
                **values: Any) -> intent.IntentResponse:
        """An error response: Assist shows and says that nothing (or not all) was done."""
        response = intent_obj.create_response()
        response.async_set_error(code, self._say(intent_obj, key, **values))
        return response

    @staticmethod
    def _join(chosen: list[tuple[GasStoveCoordinator, list[str]]], lang: Literal["zh", "en"]) -> str:
        """The burners by the names people gave them ("左灶", "Left"), never their keys."""
        return join_names([c.config.display_name(b) for c, burners in chosen for b in burners], lang)

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        if not loaded_coordinators(intent_obj.hass):
            return self._refuse(intent_obj, "no_stove")
        command = await self._command(intent_obj)
        if command is None or command.intent is None:
            return self._refuse(intent_obj, "not_understood")
        try:
            chosen = targets(intent_obj.hass, None, [command.burner] if command.burner else None)
        except ServiceValidationError:  # a burner slot no stove has
            return self._refuse(intent_obj, "not_understood")
        lang = _lang(intent_obj.language)
        if command.intent == "shut_off":
            return await self._shut_off(intent_obj, lang, chosen, command.delay_s)
        if command.intent == "cancel":
            return await self._cancel(intent_obj, lang, chosen)
        if command.intent == "status":
            return await self._status(intent_obj, lang, chosen)
        assert command.delay_s is not None  # the grammar gives a snooze its length
        return await self._snooze(intent_obj, lang, chosen, command.delay_s)

    async def _snooze(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                      chosen: list[tuple[GasStoveCoordinator, list[str]]],
                      delay_s: int) -> intent.IntentResponse:
        """Push back the warned shut-offs: a snooze with none standing is answered as such."""
        warned = [(c, c.guard.names_with_warning(burners)) for c, burners in chosen]
        warned = [(c, burners) for c, burners in warned if burners]
        if not warned:
            return self._respond(intent_obj, "no_warning")
        said: list[str] = []
        for coordinator, burners in warned:
            held, refused = await coordinator.guard.async_hold(burners, delay_s)
            if refused:
                said.append(self._say(intent_obj, "not_snoozed", burners=self._join(
                    [(coordinator, refused)], lang), error=self._say(intent_obj, "max_burn_reached")))
            for name, (until, bounded) in held.items():
                names = coordinator.config.display_name(name)
                if bounded:
                    left = max(1, round((until - dt_util.utcnow()).total_seconds()))
                    said.append(self._say(intent_obj, "snooze_bounded", burners=names,
                                          delay=spoken_duration(left, lang)))
                else:
                    said.append(self._say(intent_obj, "snoozed", burners=names,
                                          delay=spoken_duration(delay_s, lang)))
        response = intent_obj.create_response()
        response.async_set_speech(" ".join(said) if lang == "en" else "".join(said))
        return response

    async def _shut_off(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                        chosen: list[tuple[GasStoveCoordinator, list[str]]],
                        delay_s: int | None) -> intent.IntentResponse:
        names = self._join(chosen, lang)
        if delay_s:
            for coordinator, burners in chosen:
                await coordinator.async_schedule(burners, delay_s, source="assist")
            return self._respond(intent_obj, "scheduled", burners=names,
                                 delay=spoken_duration(delay_s, lang))
        try:
            for coordinator, burners in chosen:
                await coordinator.async_shut_off(burners, source="assist",
                                                 context=intent_obj.context)
        except HomeAssistantError:
            # Already reported (event, notification, log); say it out loud too.
            return self._refuse(intent_obj, "failed", intent.IntentResponseErrorCode.FAILED_TO_HANDLE,
                                burners=names)
        return self._respond(intent_obj, "off", burners=names)

    async def _cancel(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                      chosen: list[tuple[GasStoveCoordinator, list[str]]]) -> intent.IntentResponse:
        cancelled: list[tuple[GasStoveCoordinator, list[str]]] = []
        for coordinator, burners in chosen:
            if done := await coordinator.async_cancel(burners):
                cancelled.append((coordinator, done))
        if not cancelled:
            return self._respond(intent_obj, "no_timer")
        return self._respond(intent_obj, "cancelled", burners=self._join(cancelled, lang))

    async def _status(self, intent_obj: intent.Intent, lang: Literal["zh", "en"],
                      chosen: list[tuple[GasStoveCoordinator, list[str]]]) -> intent.IntentResponse:
        parts: list[str] = []
        for coordinator, burners in chosen:
            await coordinator.async_refresh()
            for name in burners:
                data = (coordinator.data or {}).get(name)
                answer: dict[str, Any] = {
                    "burner": name, "relay": data.state if data else "unknown",
                    "flame": flame_word(coordinator.guard.has_flame(name),
                                        coordinator.flames.lit.get(name))}
                if timer := coordinator.timers.get(name):
                    answer["timer"] = {
                        "in_s": max(1, round((timer.due - dt_util.utcnow()).total_seconds()))}
                parts.append(status_part(answer, lang, coordinator.config.display_name))
        response = intent_obj.create_response()
        response.async_set_speech(status_sentence(parts, lang))
        return response


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Called by Home Assistant's ``intent`` integration, which loads ``intent.py``
    of every integration as an intent platform (and awaits this)."""
    for intent_type in (*HASS_INTENTS, NOT_UNDERSTOOD_INTENT):
        intent.async_register(hass, GasStoveIntent(intent_type))


#: Every intent of our sentence files: what makes an utterance a stove sentence.
STOVE_INTENTS = frozenset({*HASS_INTENTS, NOT_UNDERSTOOD_INTENT})


async def async_say(hass: HomeAssistant, text: str, language: str,
                    context: Context) -> dict[str, Any]:
    """Answer ``text`` as Assist would when it is a stove sentence; otherwise do nothing.

    For text from another assistant (Xiao AI through hass-xiaomi-miot), which hears
    everything said in the room. Home Assistant's own default agent recognises it
    (our sentence files and its own sentences, exactly as Assist does), and only a
    match of one of our intents is handled, by the very handler Assist calls: the same
    replies and the same refusals ("没听懂" for a stove sentence not understood, a
    failed shut-off said as one). Anything else is left alone with ``intent`` None:
    ``conversation.process`` would run it too, turning on Home Assistant's lights,
    starting its timers or answering the weather for a sentence Xiao AI already took.
    """
    from homeassistant.components import conversation

    if "conversation" not in hass.config.components:
        raise ServiceValidationError("gasstove.say needs Assist (the conversation integration)")
    agent = conversation.async_get_agent(hass)
    user_input = conversation.ConversationInput(
        text=text, context=context, conversation_id=None, device_id=None, language=language,
        agent_id=conversation.HOME_ASSISTANT_AGENT)
    result = await agent.async_recognize_intent(user_input)  # type: ignore[union-attr]
    if result is None or result.unmatched_entities or result.intent.name not in STOVE_INTENTS:
        return {"intent": None, "speech": "", "response_type": None, "error_code": None}
    # The slots as the default agent passes them; our handler reads the text again anyway.
    slots = {e.name: {"value": e.value, "text": e.text or e.value} for e in result.entities_list}
    response = await intent.async_handle(hass, DOMAIN, result.intent.name, slots, text,
                                         context, language)
    return {
        "intent": result.intent.name,
        "speech": response.speech.get("plain", {}).get("speech", ""),
        "response_type": response.response_type.value,
        "error_code": response.error_code.value if response.error_code else None,
    }
