"""Voice grammar: Chinese and English sentences become stove commands (issue 5).

Pure domain code: it understands, it never acts. The CLI (``stove parse``,
``stove say``), the daemon and the Home Assistant integration all call
:func:`parse_utterance`; Home Assistant writes its sentence files from
:func:`sentence_data` and reads its ``delay`` slot with :func:`parse_delay`,
so there is one grammar. hassil (the ``voice`` extra) is needed only to match
utterances; see :mod:`.grammar` for why delays are wildcards.
"""

from .delay import parse_delay
from .grammar import HASS_INTENTS, NOT_UNDERSTOOD_INTENT, VoiceCommand, parse_utterance, sentence_data

__all__ = [
    "HASS_INTENTS", "NOT_UNDERSTOOD_INTENT", "VoiceCommand",
    "parse_delay", "parse_utterance", "sentence_data",
]
