"""``--at TIME``: a wall-clock instant from what a person typed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .durations import MAX_DELAY_S
from .errors import DurationError


def parse_at(text: str, now: datetime) -> datetime:
    """``18:30`` (next such time, local), or an ISO date-time; ``now`` must be aware."""
    raw = text
    text = text.strip()
    if m := re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text):
        when = now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
        if when <= now:
            when += timedelta(days=1)
        return when
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise DurationError(f"not a time: {raw!r} (examples: 18:30, 2026-11-25T18:30)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    if when <= now:
        raise DurationError(f"time is in the past: {raw!r}")
    if (when - now).total_seconds() > MAX_DELAY_S:
        raise DurationError(f"time is more than 24h away: {raw!r}")
    return when
