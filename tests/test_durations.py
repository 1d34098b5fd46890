from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gasstove.domain.clock_time import parse_at
from gasstove.domain.durations import format_duration, parse_duration, spoken_duration
from gasstove.domain.errors import DurationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90), ("20m", 1200), ("1h30m", 5400), ("1:30:00", 5400), ("PT20M", 1200),
        ("pt1h30m", 5400), ("1h 30m", 5400), ("20 minutes", 1200), ("2 hours", 7200),
        ("1 hour and 30 minutes", 5400), ("2.5s", 2.5), ("0:20:00", 1200), ("24h", 86400),
    ],
)
def test_the_forms_people_type_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("0s", "more than zero"), ("-5m", "more than zero"), ("PT0S", "more than zero"),
        ("25h", "too long"), ("1:30", "write 1h30m or 1m30s"), ("20", "add a unit"),
        ("abc", "not a duration"), ("", "not a duration"), ("30m1h", "not a duration"),
        ("1h1h", "not a duration"), ("PT", "not a duration"), ("0.5s", "too short"),
    ],
)
def test_zero_negative_absurd_and_garbage_are_refused_with_the_word(text: str, complaint: str) -> None:
    with pytest.raises(DurationError, match=complaint) as err:
        parse_duration(text)
    assert repr(text) in str(err.value)
    assert "\n" not in str(err.value)


@given(st.text(max_size=40))
def test_any_text_parses_or_gives_a_one_line_duration_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except DurationError as err:
        assert "\n" not in str(err).replace(repr(text), "")
    else:
        assert 1 <= seconds <= 86400


@pytest.mark.parametrize(("seconds", "text"), [(90, "1m30s"), (3, "3s"), (5400, "1h30m"), (2.5, "2.5s")])
def test_durations_are_shown_compactly(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "en", "zh"), [
    (600, "10 minutes", "10分钟"), (5400, "1 hour 30 minutes", "1小时30分钟"),
    (61, "1 minute 1 second", "1分钟1秒"), (3600, "1 hour", "1小时"), (45, "45 seconds", "45秒"),
])
def test_durations_are_said_as_words(seconds: float, en: str, zh: str) -> None:
    # Assist says these: "10m" reads as "10 metres" to a speech engine, and "10m后" is no Chinese.
    assert spoken_duration(seconds) == en
    assert spoken_duration(seconds, "zh") == zh
    assert parse_duration(en) == seconds  # what we say is what we understand


NOW = datetime(2026, 11, 25, 18, 0, tzinfo=timezone(timedelta(hours=8)))


def test_at_a_clock_time_means_the_next_one() -> None:
    assert parse_at("18:30", NOW) == NOW.replace(minute=30)
    assert parse_at("07:00", NOW) == NOW.replace(hour=7) + timedelta(days=1)


def test_at_refuses_the_past_and_far_future() -> None:
    with pytest.raises(DurationError, match="past"):
        parse_at("2026-11-25T17:00", NOW)
    with pytest.raises(DurationError, match="24h"):
        parse_at("2026-11-27T17:00", NOW)
    with pytest.raises(DurationError, match="not a time"):
        parse_at("teatime", NOW)
