"""Shut-off timers: what one is, and how lateness and replacement are told.

Deadlines are stored as wall-clock instants (they must survive a restart)
and waited on with the monotonic clock too: a timer fires at the earlier of
the two, see :func:`monotonic_deadline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from .durations import format_duration

#: A timer found more than this late at start-up is reported as late.
LATE_AFTER_S = 1.0
#: How often a waiting timer compares the wall clock with its due instant.
WALL_CHECK_S = 30.0


@dataclass(frozen=True)
class Timer:
    burner: str
    due_at: float  #: wall-clock instant (Unix time, UTC)
    set_at: float
    source: str  #: cli, socket, mqtt, ha, voice...
    requested_by: str = ""  #: uid, MQTT client id... where known
    firing: bool = False  #: a firing was started; after a crash it is fired again

    def as_json(self, now_wall: float) -> dict[str, Any]:
        out = dict(self.__dict__)  # (plain values: asdict's deep copy costs 10x)
        out["due"] = iso(self.due_at)
        out["in_s"] = round(self.due_at - now_wall, 1)
        return out


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def local_clock(wall: float) -> str:
    """An instant for a message: ISO 8601 to the second with its UTC offset, in this
    process's zone ("2026-12-01T18:50:00+08:00"). Never ambiguous, whoever reads it;
    a terminal shows it in its own reader's zone with :func:`show_times`."""
    return datetime.fromtimestamp(wall).astimezone().isoformat(timespec="seconds")


_INSTANT = re.compile(r"(\bat )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z))")


def show_times(text: str, *, now: datetime | None, tz: tzinfo | None = None) -> str:
    """``text`` with each ISO instant in it (:func:`local_clock`, :func:`iso`) as a person
    reads it: the time with its offset in ``tz`` (default: this process's zone), and the
    day when it is not today: "at 18:50:00+08:00", "tomorrow at 11:00:00+08:00",
    "yesterday 09:12:00+08:00", "2026-12-05 11:00:00+08:00". ``now`` None (a record of
    the past, such as the history): always dated."""
    today = now.astimezone(tz).date() if now is not None else None

    def shown(m: re.Match[str]) -> str:
        when = datetime.fromisoformat(m.group(2).replace("Z", "+00:00")).astimezone(tz)
        clock = when.isoformat(timespec="seconds")[11:]  # 18:50:00+08:00
        at = m.group(1) or ""
        if today is None or (days := (when.date() - today).days) not in (-1, 0, 1):
            return f"{at}{when.date().isoformat()} {clock}"
        if days == 0:
            return f"{at}{clock}"
        day = "tomorrow" if days == 1 else "yesterday"
        return f"{day} at {clock}" if at else f"{day} {clock}"

    return _INSTANT.sub(shown, text)


def monotonic_deadline(timer: Timer, now_wall: float, now_mono: float) -> float:
    """Anchor a stored wall-clock deadline to the monotonic clock, once, at scheduling.

    A timer fires at the earlier of this deadline and its wall-clock due instant
    (checked every WALL_CHECK_S). A step back of the wall clock (a person, NTP
    correcting a clock that ran ahead) is not time passing: the monotonic deadline
    still fires "in 20 minutes" after 20 real minutes, not 20 minutes plus the step.
    A step forward past the due instant fires it within WALL_CHECK_S: a timer
    restored while the clock was behind (a Raspberry Pi without a real-time clock
    boots at its last shutdown time) would otherwise wait the clock's whole error
    on top once NTP corrects it. The price: a timer *set* while the clock was behind
    fires when the corrected clock reaches the instant it was given, early by up to
    the correction (never late: early is the safe side of a shut-off).
    """
    return now_mono + max(0.0, timer.due_at - now_wall)


def lateness(timer: Timer, now_wall: float) -> float:
    return max(0.0, now_wall - timer.due_at)


def replaced_message(old: Timer, now_wall: float) -> str:
    left = old.due_at - now_wall
    when = f"due in {format_duration(round(left))}" if left >= 1 else "due now"
    return f"replaces the timer {when} (set from {old.source})"
