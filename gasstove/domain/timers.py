"""Shut-off timers: what one is, and how lateness and replacement are told.

Deadlines are stored as wall-clock instants (they must survive a restart)
and waited on with the monotonic clock (so a clock jump neither fires early
nor loses a timer): see :func:`monotonic_deadline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .durations import format_duration

#: A timer found more than this late at start-up is reported as late.
LATE_AFTER_S = 1.0


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
    """HH:MM:SS in the local time zone, for people."""
    return datetime.fromtimestamp(wall).astimezone().strftime("%H:%M:%S")


def monotonic_deadline(timer: Timer, now_wall: float, now_mono: float) -> float:
    """Anchor a stored wall-clock deadline to the monotonic clock, once, at scheduling.

    From then on only the monotonic clock counts: if the wall clock later
    jumps an hour, the timer still fires after the time that was asked for.
    """
    return now_mono + max(0.0, timer.due_at - now_wall)


def lateness(timer: Timer, now_wall: float) -> float:
    return max(0.0, now_wall - timer.due_at)


def replaced_message(old: Timer, now_wall: float) -> str:
    left = old.due_at - now_wall
    when = f"due in {format_duration(round(left))}" if left >= 1 else "due now"
    return f"replaces the timer {when} (set from {old.source})"
