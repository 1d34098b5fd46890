"""What a shut-off timer does when it comes due, for every holder of timers.

The daemon (``stove serve``) and the Home Assistant integration both keep
shut-off timers; both fire them through :func:`shut_off_with_retries`, so a
relay that misses one command (a lost datagram, a Wi-Fi blip, a relay
rebooting) is asked again on the same schedule whoever holds the timer.

Around it, each holder keeps the same rules (docs/design.md §2): only a cancel
or a confirmed cut (:func:`cut_confirmed`) removes a timer, so it stays
stored while it fires (a holder that dies mid-way fires it again when it
comes back: a second cut is harmless, a lost one is not) and, when all its
attempts fail, it stays armed and fires again after :func:`retry_pause`;
every unconfirmed attempt is reported at once, at ERROR; and the failure
stays visible until a confirmed cut of that burner clears it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from .control import Outcome
from .domain.durations import format_duration

_LOG = logging.getLogger("gasstove.timers")

#: Waits between attempts when a timer's shut-off is not confirmed.
RETRY_AFTER_S: tuple[float, ...] = (5.0, 15.0)
#: When those fail too, the timer stays armed and fires again after these
#: waits (the last repeating), each round alerting, until a cut is confirmed
#: or it is cancelled: a burner left burning is the danger this program
#: exists for, and a relay back after a Wi-Fi outage must still cut it. The
#: waits grow so an hour-long outage alerts a handful of times, not sixty.
RETRY_LATER_S: tuple[float, ...] = (60.0, 120.0, 300.0, 900.0)

#: One shut-off attempt of the timer's burner.
Attempt = Callable[[], Awaitable[Outcome]]
#: Called after each unconfirmed attempt with the wait before the next one
#: (None: that was the last attempt).
Failed = Callable[[Outcome, float | None], None]


async def shut_off_with_retries(
    attempt: Attempt,
    *,
    sleep: Callable[[float], Awaitable[None]],
    retry_after: tuple[float, ...] = RETRY_AFTER_S,
    failed: Failed | None = None,
) -> Outcome:
    """Shut off; while not confirmed, wait and try again, ``retry_after`` gives the waits."""
    pauses = iter(retry_after)
    while True:
        outcome = await attempt()
        if outcome.ok:
            return outcome
        pause = next(pauses, None)
        if pause is None:
            _LOG.error("timer shut-off of %s NOT confirmed (%s); no attempts left",
                       outcome.burner, outcome.message)
        else:
            _LOG.error("timer shut-off of %s NOT confirmed (%s); trying again in %s",
                       outcome.burner, outcome.message, format_duration(pause))
        if failed is not None:
            failed(outcome, pause)
        if pause is None:
            return outcome
        await sleep(pause)


def retry_pause(again: int) -> float:
    """The wait before round ``again`` (1, 2...) of a timer whose tries all failed."""
    return RETRY_LATER_S[min(again, len(RETRY_LATER_S)) - 1]


def cut_confirmed(outcome: Outcome) -> bool:
    """The relay confirmed the cut (even if its restore then failed: the gas went off)."""
    return outcome.ok or outcome.cut_ms is not None
