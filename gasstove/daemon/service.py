"""The daemon's core: timers that survive restarts, on top of the Stove service.

Every change is written to the store before it is acknowledged. A timer is
marked ``firing`` before its shut-off starts and deleted only after, so a
crash in between fires it again on recovery: a second cut is harmless, a
lost one is not (DESIGN.md §2, rule 2).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..adapters.store import Store, StoreError
from ..control import Outcome, Stove
from ..domain.commands import Command
from ..domain.durations import format_duration
from ..domain.remote import burner_state
from ..domain.timers import (
    Timer,
    iso,
    lateness,
    local_clock,
    monotonic_deadline,
    replaced_message,
)
from ..records import Recorder
from ..timer_policy import RETRY_AFTER_S, shut_off_with_retries
from .clock import Clock

_LOG = logging.getLogger("gasstove.daemon")


Result = dict[str, Any]


class Daemon:
    def __init__(
        self, stove: Stove, store: Store, clock: Clock, *,
        retry_after: tuple[float, ...] = RETRY_AFTER_S,
        recorder: Recorder | None = None,
    ) -> None:
        self.stove = stove
        self.store = store
        self.clock = clock
        self.retry_after = retry_after
        self.recorder = recorder or Recorder(stove.config.name, None, wall=clock.wall)
        #: Why the last shut-off of a burner failed; cleared by the next confirmed one.
        self.problem: dict[str, str | None] = dict.fromkeys(stove.config.burners)
        self.timers: dict[str, Timer] = {}
        self.locked: set[str] = store.locks() & set(stove.config.burners)
        self._tasks: dict[str, asyncio.Task[None]] = {}  #: timers still waiting
        self._running: set[asyncio.Task[None]] = set()  #: waiting or firing
        self._firing: set[str] = set()
        #: Called with the burners whose visible state changed (MQTT state...).
        self.listeners: list[Callable[[list[str]], None]] = []
        #: The relay as last seen: "resting"/"cutting"/"unknown", and reachable
        #: (None until first read).
        self.relay: dict[str, tuple[str, bool | None]] = {n: ("unknown", None)
                                                           for n in stove.config.burners}
        #: Flame inputs: lit or not (None: no input, or nothing heard yet).
        self.lit: dict[str, bool | None] = dict.fromkeys(stove.config.burners)
        self._max_burn: dict[str, asyncio.Task[None]] = {}
        #: Called with each finished timer firing (for tests and the event log).
        self.fired: list[Callable[[Timer, Outcome, float], None]] = []

    # -- life cycle -------------------------------------------------------------
    def start(self) -> None:
        now = self.clock.wall()
        for timer in self.store.timers():
            if timer.burner not in self.stove.config.burners:
                _LOG.error("stored timer for unknown burner %r dropped (config changed?)",
                           timer.burner)
                self.store.delete_timer(timer.burner)
                continue
            if timer.firing:
                _LOG.warning("timer for %s was firing when the daemon stopped; "
                             "shutting off again to be sure", timer.burner)
            elif (late := lateness(timer, now)) > 0:
                _LOG.warning("timer for %s came due at %s while the daemon was down; "
                             "firing now, %.1f s late", timer.burner, iso(timer.due_at), late)
            else:
                _LOG.info("timer for %s restored: due %s", timer.burner, iso(timer.due_at))
            self._schedule(timer)

    async def stop(self) -> None:
        """Stop waiting; pending timers stay in the store for the next start.

        A shut-off already under way is let finish (it is bounded by the
        deadlines and the pulse), so a stop never leaves a relay cutting.
        """
        for task in (*self._tasks.values(), *self._max_burn.values()):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    # -- commands -----------------------------------------------------------------
    async def handle(self, command: Command) -> list[Result]:
        names = self.stove.resolve(list(command.burners))
        if command.action == "off" and command.delay_s is not None:
            return self._set_timers(names, command)
        if command.action == "off":
            return await self._shut_off_now(names, command)
        if command.action == "cancel":
            return self._cancel(names, command)
        if command.action == "status":
            return await self.status(names)
        locking = command.action == "lock"
        act = self.stove.lock if locking else self.stove.unlock
        outcomes = await act(names)
        for outcome in outcomes:
            if outcome.ok:
                self.store.set_lock(outcome.burner, locking, at=self.clock.wall(),
                                    source=command.source)
                (self.locked.add if locking else self.locked.discard)(outcome.burner)
        await self.recorder.outcomes(outcomes, source=command.source,
                                     requested_by=command.requested_by)
        return self._results(outcomes)

    async def status(self, names: Iterable[str]) -> list[Result]:
        results: list[Outcome] = []
        for outcome in await self.stove.status(names):
            if outcome.relay == "cutting" and outcome.burner in self.locked:
                outcome = replace(outcome, message=(
                    f"locked: it cannot be lit until `stove unlock {outcome.burner}`"))
            elif outcome.relay == "cutting":
                outcome = replace(outcome, message=(
                    "relay left cutting (a cut did not restore): the burner cannot be lit "
                    f"until `stove unlock {outcome.burner}`"))
            results.append(outcome)
        return self._results(results)

    def _set_timers(self, names: list[str], command: Command) -> list[Result]:
        assert command.delay_s is not None
        now = self.clock.wall()
        results = []
        for name in names:
            timer = Timer(name, now + command.delay_s, now, command.source, command.requested_by)
            old = self.timers.get(name)
            self.store.put_timer(timer)  # on disk before anyone is told
            self._cancel_task(name)
            self._schedule(timer)
            message = (f"shut-off at {local_clock(timer.due_at)} "
                       f"(in {format_duration(command.delay_s)})")
            if old is not None:
                message += f"; {replaced_message(old, now)}"
            _LOG.info("timer set for %s: due %s, from %s", name, iso(timer.due_at), command.source)
            self.recorder.event(name, "timer_replaced" if old else "timer_set", command.source,
                                requested_by=command.requested_by,
                                reason=f"due {iso(timer.due_at)}")
            results.append({"burner": name, "action": "timer", "ok": True, "message": message,
                            "timer": timer.as_json(now), "replaced": old is not None,
                            "locked": name in self.locked})
        self._changed(names)
        return results

    async def _shut_off_now(self, names: list[str], command: Command) -> list[Result]:
        # The cut comes first: nothing the database does may stand in its way.
        # A pending timer of these burners stops waiting now (so it cannot pulse
        # again right after) and leaves the store after the cut, best effort.
        cancelled = [n for n in names if n in self.timers]
        for name in cancelled:
            self._cancel_task(name)
        outcomes = await self.stove.shut_off(names)
        for name in cancelled:
            self.timers.pop(name, None)
            try:
                self.store.delete_timer(name)
            except StoreError as err:
                _LOG.error("%s; it fires once more if the daemon restarts", err)
        for o in outcomes:
            _log_outcome(o, f"from {command.source}")
        await self.recorder.outcomes(outcomes, source=command.source,
                                     requested_by=command.requested_by)
        results = self._results(outcomes)
        for result in results:
            if result["burner"] in cancelled:
                result["message"] += "; its pending timer is no longer needed and was cancelled"
        return results

    def _cancel(self, names: list[str], command: Command) -> list[Result]:
        results = []
        for name in names:
            timer = self.timers.get(name)
            if name in self._firing:
                results.append({"burner": name, "action": "cancel", "ok": False,
                                "message": "too late: the timer's shut-off is under way",
                                "timer": None, "locked": name in self.locked})
                continue
            if timer is not None:
                self._drop_timer(name)
                _LOG.info("timer for %s cancelled", name)
                self.recorder.event(name, "timer_cancelled", command.source,
                                    requested_by=command.requested_by,
                                    reason=f"was due {iso(timer.due_at)}")
            message = (f"timer cancelled (was due {local_clock(timer.due_at)})" if timer
                       else "no timer was pending")
            results.append({"burner": name, "action": "cancel", "ok": True, "message": message,
                            "timer": None, "locked": name in self.locked})
        self._changed(names)
        return results

    # -- timers -------------------------------------------------------------------
    def _schedule(self, timer: Timer) -> None:
        deadline = monotonic_deadline(timer, self.clock.wall(), self.clock.monotonic())
        late_at_start = lateness(timer, self.clock.wall())
        self.timers[timer.burner] = timer
        task = asyncio.create_task(
            self._wait_and_fire(timer, deadline, late_at_start), name=f"timer-{timer.burner}"
        )
        self._tasks[timer.burner] = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _wait_and_fire(self, timer: Timer, deadline: float, late_at_start: float) -> None:
        wait = deadline - self.clock.monotonic()
        if wait > 0:
            await self.clock.sleep(wait)
        late = late_at_start + max(0.0, self.clock.monotonic() - deadline)
        # From here the shut-off runs to its end: a cancel that arrives now is too late.
        self._tasks.pop(timer.burner, None)
        self._firing.add(timer.burner)
        self.store.mark_firing(timer)
        try:
            outcome = await self._fire_with_retries(timer)
        finally:
            self._firing.discard(timer.burner)
        self.store.delete_timer(timer.burner, set_at=timer.set_at)
        if self.timers.get(timer.burner) == timer:
            del self.timers[timer.burner]
        _log_outcome(outcome, f"by timer set from {timer.source}, {late:.3f} s late")
        by = f"set from {timer.source}" + (f" by {timer.requested_by}" if timer.requested_by else "")
        self.recorder.event(timer.burner, "timer_fired", "timer", requested_by=by,
                            reason=f"{late:.1f} s late", latency_ms=round(late * 1000))
        await self.recorder.outcomes([outcome], source="timer", requested_by=by)
        for listener in self.fired:
            listener(timer, outcome, late)
        self._results([outcome])

    async def _fire_with_retries(self, timer: Timer) -> Outcome:
        async def attempt() -> Outcome:
            (outcome,) = await self.stove.shut_off([timer.burner])
            return outcome

        return await shut_off_with_retries(attempt, sleep=self.clock.sleep,
                                           retry_after=self.retry_after)

    def _cancel_task(self, name: str) -> None:
        if task := self._tasks.pop(name, None):
            task.cancel()

    def _drop_timer(self, name: str) -> None:
        # Off the disk first: if the store refuses, the timer stays armed and
        # the user is told the cancel failed, rather than a timer lost unsaid.
        self.store.delete_timer(name)
        self._cancel_task(name)
        self.timers.pop(name, None)

    # -- flame input and maximum burn time ------------------------------------------
    def flame(self, name: str, lit: bool) -> None:
        """The burner's flame input reports lit or out."""
        was, self.lit[name] = self.lit[name], lit
        if lit == was:
            return
        _LOG.info("%s flame %s", name, "lit" if lit else "out")
        self.recorder.event(name, "flame_lit" if lit else "flame_out", "mqtt")
        if task := self._max_burn.pop(name, None):
            task.cancel()
        max_burn = self.stove.config.burners[name].max_burn
        if lit and max_burn is not None:
            # from when we heard it lit: after a restart the count starts again
            task = asyncio.create_task(self._burn_limit(name, max_burn), name=f"max-burn-{name}")
            self._max_burn[name] = task
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self._changed([name])

    async def _burn_limit(self, name: str, max_burn: float) -> None:
        await self.clock.sleep(max_burn)
        self._max_burn.pop(name, None)
        _LOG.warning("%s has burned for %s (its max_burn): shutting it off",
                     name, format_duration(max_burn))
        self.recorder.event(name, "max_burn", "max_burn", reason=f"lit for {format_duration(max_burn)}")
        await self._shut_off_now([name], Command("off", (name,), source="max_burn"))

    # -- views ----------------------------------------------------------------------
    def _results(self, outcomes: Iterable[Outcome]) -> list[Result]:
        """Remember what the relays said, tell listeners, and give the answers."""
        results = []
        for outcome in outcomes:
            reachable = outcome.relay != "unknown"
            was = self.relay[outcome.burner][1]
            if was is not None and reachable != was and outcome.action == "status":
                self.recorder.event(outcome.burner, "relay_back" if reachable else
                                    "relay_unreachable", "poll",
                                    result="done" if reachable else "failed",
                                    reason="" if reachable else outcome.message)
            self.relay[outcome.burner] = (outcome.relay, reachable)
            if outcome.action == "shut_off":
                self.problem[outcome.burner] = None if outcome.ok else outcome.message
            timer = self.timers.get(outcome.burner)
            results.append({**outcome.as_json(), "locked": outcome.burner in self.locked,
                            "timer": timer.as_json(self.clock.wall()) if timer else None})
        self._changed([r["burner"] for r in results])
        return results

    def burner_state(self, name: str) -> dict[str, Any]:
        relay, reachable = self.relay[name]
        timer = self.timers.get(name)
        return burner_state(relay=relay, reachable=bool(reachable), locked=name in self.locked,
                            timer_due=timer.due_at if timer else None, lit=self.lit[name],
                            problem=self.problem[name])

    async def poll(self, interval: float) -> None:
        """Read every relay now and then, so reachability and state stay current."""
        while True:
            await self.status(list(self.stove.config.burners))
            await self.clock.sleep(interval)

    def _changed(self, names: list[str]) -> None:
        for listener in self.listeners:
            listener(names)


def _log_outcome(outcome: Outcome, how: str) -> None:
    level = logging.INFO if outcome.ok else logging.ERROR
    _LOG.log(level, "%s %s %s: %s", outcome.burner, outcome.action, how, outcome.message)
