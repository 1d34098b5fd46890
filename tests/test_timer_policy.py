"""The one policy a due timer follows, in the daemon and in Home Assistant."""

from __future__ import annotations

import asyncio

from gasstove.control import Outcome
from gasstove.timer_policy import RETRY_AFTER_S, cut_confirmed, retry_pause, shut_off_with_retries


def _outcome(ok: bool) -> Outcome:
    return Outcome("left", "shut_off", ok, "resting" if ok else "unknown",
                   "shut off" if ok else "shut-off NOT confirmed: no answer")


def test_retried_after_5_and_15_s_then_given_up_each_failure_reported() -> None:
    waits: list[float] = []
    reported: list[float | None] = []

    async def attempt() -> Outcome:
        return _outcome(False)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    outcome = asyncio.run(shut_off_with_retries(
        attempt, sleep=sleep, failed=lambda o, retry_in: reported.append(retry_in)))
    assert not outcome.ok
    assert RETRY_AFTER_S == (5.0, 15.0)
    assert waits == [5.0, 15.0]
    assert reported == [5.0, 15.0, None]  # the last failure says no attempt is left


def test_stops_at_the_first_confirmed_attempt() -> None:
    results = iter([False, True, False])
    waits: list[float] = []

    async def attempt() -> Outcome:
        return _outcome(next(results))

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    assert asyncio.run(shut_off_with_retries(attempt, sleep=sleep)).ok
    assert waits == [5.0]


def test_a_timer_whose_tries_all_failed_waits_longer_each_round_up_to_15_minutes() -> None:
    assert [retry_pause(n) for n in range(1, 7)] == [60, 120, 300, 900, 900, 900]


def test_a_cut_confirmed_before_its_restore_failed_still_counts_as_a_cut() -> None:
    restore_failed = Outcome("left", "shut_off", False, "cutting", "did not restore", cut_ms=40)
    assert cut_confirmed(restore_failed)
    assert cut_confirmed(_outcome(True)) and not cut_confirmed(_outcome(False))
