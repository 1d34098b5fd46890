"""Durations as people type them: ``90s``, ``20m``, ``1h30m``, ``1:30:00``, ``PT20M``."""

from __future__ import annotations

import functools
import re

from .errors import DurationError

#: A delayed shut-off further away than this is almost certainly a typo.
MAX_DELAY_S = 24 * 3600

_UNIT_S = {"h": 3600, "m": 60, "s": 1}
_UNITS = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")
_WORDS = {
    "hours": "h", "hour": "h", "hrs": "h", "hr": "h",
    "minutes": "m", "minute": "m", "mins": "m", "min": "m",
    "seconds": "s", "second": "s", "secs": "s", "sec": "s",
}
_WORD_RE = re.compile(r"(?<=[\d\s])(" + "|".join(_WORDS) + r")\b")
_CLOCK = re.compile(r"(\d+):([0-5]\d):([0-5]\d)")
_ISO = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def parse_duration(text: str, *, minimum: float = 1, maximum: float = MAX_DELAY_S) -> float:
    """Seconds in ``text``; raises :class:`DurationError` naming the text.

    Bare numbers and ``1:30`` are refused: "20" could be seconds or minutes
    and "1:30" an hour and a half or ninety seconds, and guessing wrong on a
    gas shut-off is worse than asking.
    """
    raw = text
    text = text.strip().lower()
    negative = text.startswith("-")
    seconds = _parse(text.lstrip("-").strip())
    if seconds is not None and negative:
        seconds = -seconds
    if seconds is None:
        hint = ""
        if re.fullmatch(r"\d+(\.\d+)?", text):
            hint = f": add a unit, e.g. {text}m or {text}s"
        elif re.fullmatch(r"\d+:\d\d", text):
            hint = ": write 1h30m or 1m30s (h:mm:ss is also accepted)"
        raise DurationError(f"not a duration: {raw!r}{hint} (examples: 90s, 20m, 1h30m, 1:30:00, PT20M)")
    if seconds <= 0:
        raise DurationError(f"duration must be more than zero: {raw!r}")
    if seconds < minimum:
        raise DurationError(f"duration too short: {raw!r} (at least {_fmt(minimum)})")
    if seconds > maximum:
        raise DurationError(f"duration too long: {raw!r} (at most {_fmt(maximum)})")
    return seconds


@functools.lru_cache(maxsize=1024)  # ("1s" for each of 10,000 burners: parsed once)
def _parse(text: str) -> float | None:
    if not text:
        return None
    if m := _CLOCK.fullmatch(text):
        h, mi, s = (float(g) for g in m.groups())
        return h * 3600 + mi * 60 + s
    if text.startswith("p"):
        m = _ISO.fullmatch(text.upper())
        if not m or not any(m.groups()) or text.upper().endswith("T"):
            return None
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + s
    text = _WORD_RE.sub(lambda w: _WORDS[w.group(1)], text)
    compact = re.sub(r"\s+|\band\b|,", "", text)
    parts = _UNITS.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        return None
    units = [u for _, u in parts]
    # each unit at most once and largest first: "30m1h" is a typo, not 1h30m
    if len(set(units)) != len(units) or units != sorted(units, key=lambda u: -_UNIT_S[u]):
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """Compact human form: ``1h30m``, ``20m``, ``2.5s``."""
    return _fmt(seconds)


def _fmt(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


_SPOKEN = {
    "en": (("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
    "zh": (("小时", "小时"), ("分钟", "分钟"), ("秒", "秒")),
}


def spoken_duration(seconds: float, lang: str = "en") -> str:
    """A duration as it is said: ``1 hour 30 minutes``, ``10 minutes``; ``1小时30分钟``,
    ``10分钟`` (``lang`` "zh"). Whole seconds; a part that is zero is not said."""
    words = _SPOKEN["zh" if lang == "zh" else "en"]
    h, rest = divmod(max(0, round(seconds)), 3600)
    m, s = divmod(rest, 60)
    parts = [(v, w) for v, w in zip((h, m, s), words, strict=True) if v] or [(0, words[2])]
    if lang == "zh":
        return "".join(f"{v}{w[0]}" for v, w in parts)
    return " ".join(f"{v} {w[0] if v == 1 else w[1]}" for v, w in parts)


def config_seconds(value: object, minimum: float, maximum: float) -> float:
    """A duration from a configuration file: a number of seconds, or text such as ``3s``."""
    if isinstance(value, bool):
        raise DurationError("must be a duration such as 3s")
    if isinstance(value, int | float):
        if not minimum <= value <= maximum:
            raise DurationError(f"must be between {minimum:g} and {maximum:g} seconds")
        return float(value)
    if isinstance(value, str):
        return parse_duration(value, minimum=minimum, maximum=maximum)
    raise DurationError("must be a duration such as 3s")
