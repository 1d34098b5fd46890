"""The record of everything done to a stove: one event per cut, timer, lock, failure...

Pure: what an event is, how ``--since`` is read, and how a row is shown.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .durations import MAX_DELAY_S, parse_duration
from .errors import DurationError
from .timers import iso, show_times

Result = Literal["confirmed", "unconfirmed", "failed", "done"]

#: Where a command came from, as the issue tracker and users name them.
SOURCES = ("cli", "socket", "mqtt", "ha", "voice", "timer", "max_burn", "demo")


@dataclass(frozen=True)
class Event:
    at_ms: int  #: UTC, milliseconds since the epoch
    stove: str
    burner: str
    #: cut, lock, unlock, timer_set, timer_replaced, timer_cancelled, timer_fired,
    #: max_burn, flame_lit, flame_out, relay_unreachable, relay_back
    action: str
    source: str
    requested_by: str = ""
    result: Result = "done"
    reason: str = ""
    latency_ms: int | None = None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat(timespec="milliseconds")
        return out

    def row(self) -> str:
        """One line of `stove history`: local time with its offset, as every instant in the
        reason (recorded in UTC: "due 2026-11-25 13:52:16+08:00")."""
        when = show_times(iso(self.at_ms / 1000), now=None)
        latency = f"{self.latency_ms} ms" if self.latency_ms is not None else ""
        who = f"{self.source}" + (f" ({self.requested_by})" if self.requested_by else "")
        text = f"{when}  {self.burner:<10} {self.action:<16} {self.result:<11} {latency:>8}  {who}"
        return f"{text}  {show_times(self.reason, now=None)}" if self.reason else text


def result_of(ok: bool, sent: bool | None) -> Result:
    """Confirmed; unconfirmed (it reached the relay, which may have acted); or failed."""
    if ok:
        return "confirmed"
    return "unconfirmed" if sent else "failed"


def parse_since(text: str, now: datetime) -> datetime:
    """``--since 2h`` (that long ago) or ``--since 2026-11-25T08:00`` (local if no zone)."""
    if re.fullmatch(r"\d{4}-\d\d-\d\d([T ].*)?", text.strip()):
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise DurationError(f"not a time: {text!r} (e.g. 2026-11-25T08:00)") from None
        return when if when.tzinfo else when.astimezone()
    try:
        seconds = parse_duration(text, maximum=400 * MAX_DELAY_S)
    except DurationError as err:
        raise DurationError(f"--since: {err}; or a time such as 2026-11-25T08:00") from None
    return datetime.fromtimestamp(now.timestamp() - seconds, UTC)
