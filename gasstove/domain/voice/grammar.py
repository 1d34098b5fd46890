"""Utterances to stove commands with hassil and our own sentence templates.

Why the delay is a wildcard and not a value list: hassil can only give a slot
one value per list entry, so "1小时20分钟", "一个半小时", "an hour and a half"
and "1h 15m" would need every combination of hours, minutes, numeral styles
and unit words spelled out -- tens of thousands of entries per language. Both
hassil 1.6.1 and 3.x try list entries one by one (1.6.1 also re-runs a
punctuation regex on every miss), so such lists cost tens of milliseconds per
sentence, and hassil's number ranges cannot help: they do not read Chinese
numerals in 1.6.1. A wildcard is matched the same way in both versions, so
the templates capture the delay as text and :func:`~.delay.parse_delay`
decides, strictly, whether that text is a delay; a candidate whose delay text
is not one is skipped (the next candidate is tried) and never guessed at.
Home Assistant (issue 6) uses the very same data from :func:`sentence_data`
and converts its ``delay`` wildcard slot with ``parse_delay`` too.

Safety does not rest on the templates alone: an utterance that contains a
phrase meaning "turn on / light" is refused before matching (see
:data:`_TURN_ON`), so no future template can turn one into an intent.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import yaml

from ..errors import UsageError
from .delay import MINUS_SIGN, MINUS_WORD, keep_numbers_apart, parse_delay

if TYPE_CHECKING:
    from hassil import Intents

Intent = Literal["shut_off", "cancel", "status", "snooze"]
Lang = Literal["zh", "en"]

#: Home Assistant intent names in the sentence files -> our intent names.
HASS_INTENTS: Mapping[str, Intent] = {
    "GasStoveShutOff": "shut_off",
    "GasStoveCancel": "cancel",
    "GasStoveStatus": "status",
    "GasStoveSnooze": "snooze",
}
#: Intents the library understands that Home Assistant's sentence files leave out
#: (see :func:`sentence_data`).
LIBRARY_INTENTS: Mapping[str, Intent] = {
    **HASS_INTENTS,
    # "cancel the timer", "还有多久": no stove word, so in Home Assistant they are its own
    # timers' (HassCancelTimer, HassTimerStatus); `stove say` and the say topic hear only us.
    "GasStoveCancelTimer": "cancel", "GasStoveTimeLeft": "status",
}
#: A stove sentence that is none of the above (see the sentence files): never a
#: command here; in Home Assistant it keeps HA's own delayed-command intent from
#: confirming a stove sentence that nothing will act on.
NOT_UNDERSTOOD_INTENT = "GasStoveNotUnderstood"

#: Phrases that mean turning the stove on or lighting it. Any of them anywhere
#: in an utterance makes it unrecognised, whatever else it says.
_TURN_ON: Mapping[Lang, re.Pattern[str]] = {
    "zh": re.compile(
        "打开|开火|点火|点燃|点着|打着|开灶|开燃气|开煤气|开天然气|启动|开启|生火|开一下"
        "|开大|调大|把火开|火开大|开个火|重新开|再开|开小火|开中火"
    ),
    "en": re.compile(
        r"\b(?:turn|switch|flip|put)\s+(?!off\b)(?:\S+\s+){0,4}?on\b"
        r"|\b(?:light|lights|lighting|relight|ignite|ignites|igniting|reignite)\b"
        r"|\b(?:start|open|fire)\s+(?:\S+\s+){0,3}?"
        r"(?:stove|burners?|fire|flame|gas|valve|hob|cooker|cooktop|up)\b"
        r"|\bturn\s+(?:\S+\s+){0,3}?up\b"
    ),
}
_CJK = re.compile(r"[\u3400-\u9fff]")
#: Xiao AI's wake word at the start ("小爱同学，十分钟后关火"): bridges and typed text may keep it.
_WAKE_WORD = re.compile(r"^\s*(?:小爱同学|小爱)[\s，,、。:：!！]*")
# hassil strips some punctuation itself, but not the same set in 1.6.1 and 3.x.
# A "." survives only inside a number ("1.5小时").
_ZH_DROP = re.compile(r"(?:[^\w.]|_|(?<!\d)\.|\.(?!\d))+")
_EN_DROP = re.compile(r"(?:[^\w.']|_|(?<!\d)\.|\.(?!\d))+")


@dataclass(frozen=True)
class VoiceCommand:
    """What an utterance asks for; ``intent`` None means "not understood, do nothing"."""

    intent: Intent | None
    delay_s: int | None
    #: A configured burner name, "all", or None (not said, which means all).
    burner: str | None

    def as_json(self) -> dict[str, object]:
        return {"intent": self.intent, "delay_s": self.delay_s, "burner": self.burner}


NOT_UNDERSTOOD = VoiceCommand(intent=None, delay_s=None, burner=None)


@cache
def _templates(lang: Lang) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("sentences", f"{lang}.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _burner_values(lang: Lang, burners: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """The ``burner`` list: built-in words, then configured names and aliases.

    Built-in left/right words name the burner called ``left``/``right`` when
    one is configured; with no burners configured at all (``stove parse``
    without a config file) they still give "left"/"right", so the result
    shows what was understood. With burners configured but none called
    ``left``, "左边" is not a burner word and the utterance is not understood:
    a wrong burner is never guessed. Configured words win over built-in ones.
    """
    words: dict[str, str] = {}
    for value in _templates(lang)["lists"]["burner"]["values"]:
        if value["out"] == "all" or not burners or value["out"] in burners:
            words[value["in"]] = value["out"]
    for name, aliases in burners.items():
        for word in (name, name.replace("_", " "), *aliases):
            for spelling in _spellings(word, lang):
                words[spelling] = name
    return [{"in": word, "out": name} for word, name in words.items() if word]


def sentence_data(lang: Lang, burners: Mapping[str, Sequence[str]] = {}, *,
                  library: bool = False) -> dict[str, Any]:
    """The grammar for ``lang`` as a hassil / Home Assistant custom_sentences dict.

    This is what :func:`parse_utterance` matches against, so Home Assistant
    can write it out as ``custom_sentences/<lang>/gasstove.yaml`` (intents
    GasStoveShutOff, GasStoveCancel, GasStoveStatus, GasStoveSnooze; slot ``burner`` gives a
    configured burner name or "all"; slot ``delay`` is a wildcard whose text
    :func:`~.delay.parse_delay` turns into seconds) and both understand the
    same sentences. ``language`` is "zh" or "en": set Home Assistant's own
    code (e.g. "zh-cn") before writing the file. ``library``: also the intents only
    the library acts on (:data:`LIBRARY_INTENTS`: timer words
    with no stove word, which Home Assistant keeps for its own timers).
    """
    data = copy.deepcopy(_templates(lang))
    if not library:
        for name in set(LIBRARY_INTENTS) - set(HASS_INTENTS):
            del data["intents"][name]
    values = _burner_values(lang, burners)
    data["lists"]["burner"] = {"values": values}
    builtin = {value["in"] for value in _templates(lang)["lists"]["burner"]["values"]}
    aliases = {spelling for aliases in burners.values() for alias in aliases
               for spelling in _spellings(alias, lang)}
    data["lists"]["stove_word"] = {"values": sorted(aliases - builtin - {""})}
    return data


@lru_cache(maxsize=16)
def _intents(lang: Lang, burners: tuple[tuple[str, tuple[str, ...]], ...]) -> Intents:
    from hassil import Intents

    return Intents.from_dict(sentence_data(lang, dict(burners), library=True))


def _spellings(word: str, lang: Lang) -> set[str]:
    """A configured burner word as our matcher sees it ("burner minus 2" for "burner-2")
    and as Home Assistant's, which reads the sentence file, may hear it ("burner 2")."""
    return {_clean(word, lang), _clean(word, lang, apart=False)} - {""}


def _clean(text: str, lang: Lang, *, apart: bool = True) -> str:
    """Text as the matcher takes it. ``apart``: keep minus signs and the numbers
    that dropped punctuation would join (see :func:`~.delay.keep_numbers_apart`)."""
    if apart:
        # A minus sign survives as a word: dropped with the punctuation, "in -5
        # minutes" matched as "in 5 minutes".
        text = MINUS_SIGN[lang].sub(MINUS_WORD[lang], keep_numbers_apart(text))
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    if lang == "zh":
        return _ZH_DROP.sub("", text)
    return " ".join(_EN_DROP.sub(" ", text).split())


def utterance_language(text: str, lang: Literal["auto", "zh", "en"]) -> Lang:
    if lang != "auto":
        return lang
    return "zh" if _CJK.search(text) else "en"


def _command(result: Any, lang: Lang) -> VoiceCommand | None:
    """The command for one hassil match, or None when it is not one (see
    :data:`NOT_UNDERSTOOD_INTENT`) or its delay text is not a delay."""
    intent = LIBRARY_INTENTS.get(result.intent.name)
    if intent is None:
        return None
    entities = result.entities
    delay_s = None
    # "five more minutes": the number and the unit are apart ("five ... minutes")
    said = (f"{entities['more'].value} {entities['more_unit'].value}" if "more" in entities
            else str(entities["delay"].value) if "delay" in entities else None)
    if said is not None:
        delay_s = parse_delay(said, lang)
        if delay_s is None:
            return None
    if intent == "snooze" and delay_s is None:
        return None
    burner = entities["burner"].value if "burner" in entities else None
    return VoiceCommand(intent=intent, delay_s=delay_s, burner=burner)


def parse_utterance(
    text: str,
    *,
    lang: Literal["auto", "zh", "en"] = "auto",
    burners: Mapping[str, Sequence[str]] = {},
) -> VoiceCommand:
    """Understand one spoken or typed sentence; never acts.

    ``burners`` maps configured burner names to their aliases. Anything not
    understood -- other devices, turning the stove on, an unknown burner, a
    delay that is not one or is over 24 h -- gives ``intent`` None.
    Raises :class:`~gasstove.domain.errors.UsageError` if hassil is missing.
    """
    try:
        from hassil import recognize_all
    except ImportError:
        raise UsageError("voice commands need hassil (the gasstove[voice] extra)") from None
    text = _WAKE_WORD.sub("", text, count=1)
    # Both languages' turn-on phrases are refused whatever the language, so
    # mixed text ("light the burner 然后关火") cannot slip past the check.
    if any(_TURN_ON[each].search(_clean(text, each)) for each in _TURN_ON):
        return NOT_UNDERSTOOD
    language = utterance_language(text, lang)
    cleaned = _clean(text, language)
    if not cleaned:
        return NOT_UNDERSTOOD
    key = tuple(sorted((name, tuple(aliases)) for name, aliases in burners.items()))
    results: Iterable[Any] = recognize_all(cleaned, _intents(language, key))
    for result in results:
        if command := _command(result, language):
            return command
    return NOT_UNDERSTOOD
