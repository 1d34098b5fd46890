"""What a shut-off timer does when it comes due, for every holder of timers.

The daemon (``stove serve``) and the Home Assistant integration both keep
shut-off timers; both fire them through :func:`shut_off_with_retries`, so a
relay that misses one command (a lost datagram, a Wi-Fi blip, a relay
rebooting) is asked again on the same schedule whoever holds the timer.

Around it, each holder keeps the same rules (DESIGN.md §2): the timer stays
stored until the attempts are over, so a holder that dies mid-way fires it
again when it comes back (a second cut is harmless, a lost one is not);
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
