"""An utterance from a text source (the daemon's MQTT ``say`` topic, ``stove say -``).

Pure: what a ``say`` message carries, checked before anything is matched or done;
the stove command an understood utterance becomes; and the ids already answered,
so a message delivered twice (MQTT QoS 1 may, and a bridge that restarts may send
its last conversation record again) is not acted on twice.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Literal

from ..commands import ActionName, Command, decode_command
from ..errors import UsageError
from .grammar import VoiceCommand, utterance_language

#: An utterance longer than this is refused unmatched: people say a few words, and
#: matching costs time with the length (44 ms for 500 characters).
MAX_UTTERANCE_CHARS = 500
#: A say message: the text and a few short fields.
MAX_SAY_BYTES = 4096
#: Ids remembered, per daemon run: a replay is refused while its id is among the
#: last this many.
REMEMBERED_IDS = 4096
_KEYS = {"text", "lang", "id"}
#: Our language words, and Home Assistant's / BCP 47 codes of the two ("zh-cn", "en-GB").
_LANG = re.compile(r"auto|(?:zh|en)(?:[-_][a-z0-9]{1,8}){0,3}")
ACTION: dict[str, ActionName] = {"shut_off": "off", "cancel": "cancel", "status": "status",
                                 "snooze": "snooze"}


@dataclass(frozen=True)
class SayRequest:
    text: str
    lang: Literal["auto", "zh", "en"] = "auto"
    id: str = ""

    @property
    def reply_lang(self) -> Literal["zh", "en"]:
        """The language the answer is said in: the one asked for, else the utterance's."""
        return utterance_language(self.text, self.lang)


def check_text(text: str, where: str) -> str:
    """``text`` as one utterance, or a one-line UsageError about ``where``."""
    text = " ".join(text.split())
    if not text:
        raise UsageError(f"{where}: an empty utterance")
    if len(text) > MAX_UTTERANCE_CHARS:
        raise UsageError(f"{where}: an utterance of {len(text)} characters "
                         f"(at most {MAX_UTTERANCE_CHARS})")
    return text


def parse_say(payload: bytes, where: str) -> SayRequest:
    """A say message: the utterance as plain UTF-8 text, or a JSON object
    ``{"text": ..., "lang": "auto"|"zh"|"en"|"zh-cn"..., "id": ...}``."""
    if len(payload) > MAX_SAY_BYTES:
        raise UsageError(f"{where}: a message of {len(payload)} bytes (at most {MAX_SAY_BYTES})")
    if not payload.lstrip().startswith(b"{"):
        try:
            return SayRequest(check_text(payload.decode("utf-8"), where))
        except UnicodeDecodeError:
            raise UsageError(f"{where}: not UTF-8 text") from None
    obj = decode_command(payload, f"message on {where}")
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: a JSON message must be an object")
    if unknown := sorted(set(obj) - _KEYS):
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (text, lang, id)")
    text = obj.get("text")
    if not isinstance(text, str):
        raise UsageError(f"{where}: text must be the utterance, a string")
    lang = obj.get("lang", "auto")
    if not isinstance(lang, str) or not _LANG.fullmatch(lang.lower()):
        raise UsageError(f"{where}: lang must be auto, zh or en (or a code such as zh-cn)")
    ident = obj.get("id", "")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or len(str(ident)) > 64:
        raise UsageError(f"{where}: id must be a short string or number")
    short: Literal["auto", "zh", "en"] = ("auto" if lang.lower() == "auto"
                                          else "zh" if lang.lower()[:2] == "zh" else "en")
    return SayRequest(check_text(text, where), short, str(ident))


def command_for(heard: VoiceCommand, *, source: str, requested_by: str, ident: str = "") -> Command:
    """The daemon command an understood utterance asks for (no burner said: every burner)."""
    assert heard.intent is not None
    burners = (heard.burner,) if heard.burner is not None and heard.burner != "all" else ()
    return Command(ACTION[heard.intent], burners,
                   None if heard.delay_s is None else float(heard.delay_s),
                   source, requested_by, ident)


class AnsweredIds:
    """The last :data:`REMEMBERED_IDS` ids of say messages, oldest forgotten first."""

    def __init__(self, size: int = REMEMBERED_IDS) -> None:
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._size = size

    def first_time(self, ident: str) -> bool:
        """Whether ``ident`` is new (and remember it); an empty id is always new."""
        if not ident:
            return True
        if ident in self._seen:
            return False
        self._seen[ident] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True
