"""Spoken delays ("二十分钟", "一个半小时", "an hour and a half", "1h 15m") as seconds.

The grammar captures the delay as wildcard text and this module decides
whether that text is a delay. It is strict on purpose: the whole text must be
a delay and nothing else, so a wildcard that swallowed other words ("打开燃气灶
十分钟") is refused instead of being read as a number, and the utterance as a
whole is not recognised.
"""

from __future__ import annotations

import math
import re
import unicodedata

from ..durations import MAX_DELAY_S

# -- Minus signs ----------------------------------------------------------

_DASHES = "\\-\u2010-\u2013\u2212\ufe63\uff0d"  # hyphen-minus, hyphens, figure/en dash, minus
_EN_NUMBER_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen"
    r"|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|an?|half|quarter)\b"
)
#: A dash that reads as a minus sign: before a digit, or before a number word
#: where it does not join two words ("twenty-five", "shut-off" stay hyphens).
#: Punctuation is otherwise dropped, which turned "in -5 minutes" into 300 s.
MINUS_SIGN = {
    "en": re.compile(rf"[{_DASHES}]\s*(?=\d)|(?<!\w)[{_DASHES}]\s*(?={_EN_NUMBER_WORD})"),
    "zh": re.compile(rf"[{_DASHES}]\s*(?=[\d零〇一二两俩三四五六七八九十百半])"),
}
#: The word a minus sign becomes, so a delay that had one is refused as a whole.
MINUS_WORD = {"en": " minus ", "zh": "负"}

# Punctuation or a space between two digits: Chinese text loses both, which read
# "1/2小时" as 12 hours and "1,5分钟" as 15 minutes ("1.5" keeps its point); and a
# point with no digit before it, dropped as punctuation: ".5 minutes" was 5 minutes.
_NUMBER_GAP = re.compile(r"(?<=\d)(?:[^\w.]|_)+(?=\d)|(?<!\d)\.(?=\d)")
#: What stands between numbers that must stay apart: a word no delay contains.
NUMBER_BREAK = " x "


def keep_numbers_apart(text: str) -> str:
    """``text`` in NFKC form, with :data:`NUMBER_BREAK` wherever dropping punctuation
    would run two numbers into one.

    Characters that are numbers but not digits ("½", "²", "⑩") become a break too:
    NFKC spells "½" as "1⁄2" (then 12) and "5²" as "52".
    """
    text = "".join(NUMBER_BREAK if unicodedata.category(ch) == "No" else ch for ch in text)
    return _NUMBER_GAP.sub(NUMBER_BREAK, unicodedata.normalize("NFKC", text))


# -- Chinese --------------------------------------------------------------

_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_D = "[一二两俩三四五六七八九]"
# 五, 十, 十五, 二十, 二十五, 一百, 一百零五, 一百二十: the numbers people say for
# minutes and hours; digit strings ("二五") are not numbers and are refused.
_CN_NUMBER = re.compile(
    rf"(?:(?P<hundreds>{_D})百(?P<zero>零)?)?(?:(?P<tens>{_D})?(?P<ten>十))?(?P<units>{_D})?"
)
_ZH_NUM = r"(?:\d+(?:\.\d+)?|[零一二两俩三四五六七八九十百]+)"
_ZH_HOURS = re.compile(
    rf"(?:(?P<n>{_ZH_NUM})个?(?P<half1>半)?|(?P<half0>半)个?)(?:小时|钟头|钟)(?P<half2>半)?"
)
_ZH_QUARTERS = re.compile(rf"(?P<n>{_ZH_NUM})刻钟?")
_ZH_MINUTES = re.compile(rf"零?(?:(?P<n>{_ZH_NUM})分钟?(?P<half>半)?钟?|(?P<half0>半)分钟?)")
_ZH_SECONDS = re.compile(rf"零?(?P<n>{_ZH_NUM})秒钟?")
# "一小时二十" leaves the minutes unit out, but only after an hour part.
_ZH_BARE_MINUTES = re.compile(rf"零?(?P<n>{_ZH_NUM})")


def _cn_number(text: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    m = _CN_NUMBER.fullmatch(text)
    if not m or not text:
        return None
    hundreds, zero, tens, ten, units = m.group("hundreds", "zero", "tens", "ten", "units")
    if zero and (ten or not units):
        return None  # 一百零十 / 一百零 are not numbers
    value = _CN_DIGITS[hundreds] * 100 if hundreds else 0
    if ten:
        value += (_CN_DIGITS[tens] if tens else 1) * 10
    if units:
        value += _CN_DIGITS[units]
    return float(value)


def _zh_seconds(text: str) -> float | None:
    pos, total, found = 0, 0.0, False
    if m := _ZH_HOURS.match(text, pos):
        if m["n"] is not None:
            n = _cn_number(m["n"])
            if n is None or (m["half1"] and m["half2"]):
                return None
            hours = n + (0.5 if m["half1"] or m["half2"] else 0)
        else:
            if m["half2"]:
                return None  # 半小时半
            hours = 0.5
        total, pos, found = hours * 3600, m.end(), True
        if m["half1"] or m["half2"] or m["half0"]:
            return total if pos == len(text) else None
    if (m := _ZH_QUARTERS.match(text, pos)) and pos == 0:
        n = _cn_number(m["n"])
        return n * 900 if n is not None and m.end() == len(text) else None
    if m := _ZH_MINUTES.match(text, pos):
        if m["half0"]:
            minutes = 0.5
        else:
            n = _cn_number(m["n"])
            if n is None:
                return None
            minutes = n + (0.5 if m["half"] else 0)
        total, pos, found = total + minutes * 60, m.end(), True
    elif found and (m := _ZH_BARE_MINUTES.fullmatch(text, pos)):
        n = _cn_number(m["n"])
        return None if n is None else total + n * 60
    if m := _ZH_SECONDS.match(text, pos):
        n = _cn_number(m["n"])
        if n is None:
            return None
        total, pos, found = total + n, m.end(), True
    return total if found and pos == len(text) else None


# -- English --------------------------------------------------------------

_EN_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_EN_TEENS = {
    "zero": 0,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_EN_TENS)})(?:\s+(?P<unit>{'|'.join(_EN_UNITS)}))?"
    rf"|(?P<small>{'|'.join([*_EN_UNITS, *_EN_TEENS])}))\b"
)
_EN_SECONDS_PER = {
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _en_word_number(m: re.Match[str]) -> str:
    if m["small"]:
        return str(_EN_UNITS.get(m["small"]) or _EN_TEENS[m["small"]])
    return str(_EN_TENS[m["tens"]] + (_EN_UNITS[m["unit"]] if m["unit"] else 0))


def _en_seconds(text: str) -> float | None:
    text = text.replace("-", " ")
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)  # 1h15m -> 1 h 15 m
    text = _EN_WORD_NUMBER.sub(_en_word_number, text)
    # "a half"/"a quarter" are fractions, not "1 half": fold them before a/an mean 1
    text = re.sub(r"\ban?\s+(half|quarter)\b", r"\1", text)
    words = re.sub(r"\ban?\b", "1", text).split()
    total, i, last_unit = 0.0, 0, 3601

    def word(k: int) -> str:
        return words[k] if k < len(words) else ""

    def unit_after(k: int) -> tuple[int, int] | None:
        """(seconds per unit, index after it) for "[of] [1] UNIT" at k."""
        if word(k) == "of":
            k += 1
        if word(k) == "1":
            k += 1
        per = _EN_SECONDS_PER.get(word(k))
        return None if per is None else (per, k + 1)

    while i < len(words):
        if words[i] == "and" and 0 < i < len(words) - 1:
            i += 1
            continue
        if words[i] in ("half", "quarter", "quarters") or (
            _NUMBER.fullmatch(words[i]) and word(i + 1) in ("quarter", "quarters")
        ):
            # half an hour, a quarter of an hour, three quarters of an hour
            count = 1.0
            if _NUMBER.fullmatch(words[i]):
                count, i = float(words[i]), i + 1
            fraction = 0.5 if words[i] == "half" else 0.25
            found = unit_after(i + 1)
            if found is None or (fraction == 0.25 and found[0] != 3600):
                return None
            per, i = found
            value = count * fraction * per
        elif _NUMBER.fullmatch(words[i]):
            count, i = float(words[i]), i + 1
            if word(i) == "and" and word(i + 1) == "half":  # one and a half hours
                count, i = count + 0.5, i + 2
            per = _EN_SECONDS_PER.get(word(i), 0)
            if not per:
                return None
            i += 1
            value = count * per
            if word(i) == "and" and word(i + 1) == "half":  # an hour and a half
                value, i = value + per / 2, i + 2
        else:
            return None
        if per >= last_unit:
            return None  # each unit once, largest first: "5 minutes 1 hour" is a slip
        total, last_unit = total + value, per
    return total if words else None


def parse_delay(text: str, lang: str) -> int | None:
    """Seconds in a spoken delay, or None when ``text`` is not exactly one delay.

    ``lang`` is "zh" or "en". Delays under one second or over
    :data:`~gasstove.domain.durations.MAX_DELAY_S` (24 h) are refused (None),
    so a mis-heard "two hundred hours" never becomes a timer; so is any delay
    with a minus sign ("-5 minutes", "负五分钟", "minus five minutes").
    """
    text = keep_numbers_apart(text).strip().lower()
    if MINUS_SIGN["zh" if lang == "zh" else "en"].search(text):
        return None  # "-5 minutes" is not five minutes
    seconds = _zh_seconds("".join(text.split())) if lang == "zh" else _en_seconds(" ".join(text.split()))
    if seconds is None or not math.isfinite(seconds):
        return None  # 400 nines overflow a float to inf
    rounded = round(seconds)
    return rounded if 1 <= rounded <= MAX_DELAY_S else None
