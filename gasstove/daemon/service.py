"""The daemon's core: timers that survive restarts, on top of the Stove service.

Every change is written to the store before it is acknowledged, by the disk
thread (:mod:`..adapters.disk`): the event loop never waits on the disk, and the
timers of one command are one transaction. A timer is marked ``firing`` as its
shut-off starts and deleted only after a cut was confirmed (both best effort,
batched with the other timers coming due at once), so a crash in between fires
it again on recovery: a second cut is harmless, a lost one is not (docs/design.md §2,
rule 2). Nothing but a cancel or a confirmed cut removes a pending timer: a
failed immediate shut-off leaves it armed, and a timer whose own tries all fail
keeps trying.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, get_args

from ..adapters.disk import DiskWriter
from ..adapters.memory import give_back_freed_memory
from ..adapters.store import Store, StoreError
from ..control import Outcome, Stove
from ..domain.answers import Answer
from ..domain.commands import Command
from ..domain.config_source import ConfigSource, refusal
from ..domain.durations import format_duration
from ..domain.errors import UsageError
from ..domain.flame import flame_word
from ..domain.guard import GuardConfig
from ..domain.relay import RelayState
from ..domain.remote import burner_state
from ..domain.timers import (
    WALL_CHECK_S,
    Timer,
    iso,
    lateness,
    local_clock,
    monotonic_deadline,
    replaced_message,
)
from ..records import Recorder
from ..timer_policy import RETRY_AFTER_S, cut_confirmed, retry_pause, shut_off_with_retries
from .clock import Clock
from .guard import GuardDriver

_LOG = logging.getLogger("gasstove.daemon")
#: Every (relay, reachable) the daemon remembers, made once and shared: ten thousand
#: burners' pairs, made as the first poll's answers came in, held its memory there
#: long after the poll's own objects were gone (issue 17).
_RELAY_STATES: dict[tuple[RelayState, bool | None], tuple[RelayState, bool | None]] = {
    (relay, reachable): (relay, reachable)
    for relay in get_args(RelayState) for reachable in (True, False, None)}


Result = Answer
#: What the alarm tells a timer it fired: how late, when (monotonic), and its first shut-off.
Fired = tuple[float, float, "asyncio.Future[Outcome]"]


@dataclass
class _Waiting:
    """A timer waiting for the alarm of its due instant."""

    timer: Timer
    deadline: float  #: monotonic (see monotonic_deadline)
    late_at_start: float
    #: Set by the alarm: what it fired (None: the burner is being cut, the timer waits for
    #: that cut's outcome itself); cancelled with the timer's task.
    woken: asyncio.Future[Fired | None]


class Daemon:
    def __init__(
        self, stove: Stove, store: Store, clock: Clock, *,
        retry_after: tuple[float, ...] = RETRY_AFTER_S,
        recorder: Recorder | None = None,
        source: ConfigSource | None = None,
        disk: DiskWriter | None = None,
        guard: GuardConfig | None = None,
    ) -> None:
        """``disk``: the thread that writes ``store`` (and the recorder's history, if the
        recorder was given a :class:`..adapters.disk.BackgroundSink` of it)."""
        self.stove = stove
        self.store = store
        self._own_disk = disk is None
        self.disk = disk or DiskWriter()
        #: Held by arming and cancelling, so each sees the one before it on disk.
        self._arming = asyncio.Lock()
        self.clock = clock
        #: The configuration file it runs, and since when: a command naming another is
        #: refused (commands.Command.config).
        self.source = source
        self.started_at = clock.wall()
        self.retry_after = retry_after
        self.recorder = recorder or Recorder(stove.config.name, None, wall=clock.wall)
        #: Why the last shut-off of a burner failed; cleared by the next confirmed one.
        self.problem: dict[str, str | None] = dict.fromkeys(stove.config.burners)
        self.timers: dict[str, Timer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}  #: timers still waiting
        self._running: set[asyncio.Task[None]] = set()  #: waiting or firing
        self._firing: set[str] = set()
        #: Timers waiting, by (due instant, monotonic deadline in ms): one alarm each.
        self._alarms: dict[tuple[float, int], dict[str, _Waiting]] = {}
        self._rings: set[asyncio.Task[None]] = set()  #: the alarms' tasks
        #: Held by an immediate shut-off of the burner until its timer is settled:
        #: a timer coming due meanwhile waits for the outcome (see _cut_now).
        self._cutting = {name: asyncio.Lock() for name in stove.config.burners}
        #: Monotonic time of the burner's last confirmed immediate cut.
        self._confirmed_at: dict[str, float] = {}
        #: Called with the burners whose visible state changed (MQTT state...).
        self.listeners: list[Callable[[list[str]], None]] = []
        #: The relay as last seen: "resting"/"cutting"/"unknown", and reachable
        #: (None until first read).
        self.relay: dict[str, tuple[RelayState, bool | None]] = {
            n: _RELAY_STATES["unknown", None] for n in stove.config.burners}
        #: Flame inputs: lit or not (None: no input, or nothing heard yet).
        self.lit: dict[str, bool | None] = dict.fromkeys(stove.config.burners)
        #: Called with each finished timer firing (for tests and the event log).
        self.fired: list[Callable[[Timer, Outcome, float], None]] = []
        #: The stove guard: maximum burn, presence, warnings, snooze, hazards.
        self.guard = GuardDriver(self, guard or GuardConfig())

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
        self.guard.start()

    async def stop(self) -> None:
        """Stop waiting; pending timers stay in the store for the next start.

        A shut-off already under way is let finish (it is bounded by the
        deadlines and the pulse), so a stop never leaves a relay cutting.
        """
        for task in (*self._tasks.values(), *self._rings):
            task.cancel()
        await self.guard.stop()
        await asyncio.gather(*self._running, return_exceptions=True)
        if self._own_disk:
            await self.disk.close()
        else:
            await self.disk.written()

    # -- commands -----------------------------------------------------------------
    async def handle(self, command: Command) -> list[Result]:
        asked = self.disk.asked
        results = await self._handle(command)
        if self.disk.asked != asked:  # its history rows: what `stove history` shows next
            await self.disk.written()
        return results

    async def _handle(self, command: Command) -> list[Result]:
        if command.config is not None and self.source is not None and (
                why := refusal(self.source, local_clock(self.started_at), command.config)):
            raise UsageError(why)
        names = self.stove.resolve(list(command.burners))
        if command.action == "off" and command.delay_s is not None:
            return await self._set_timers(names, command)
        if command.action == "off":
            return await self._shut_off_now(names, command)
        if command.action == "cancel":
            return await self._cancel(names, command)
        if command.action == "snooze":
            assert command.delay_s is not None
            return await self.guard.snooze(names, command.delay_s, command)
        if command.action == "status":
            return await self.status(names)
        act = self.stove.lock if command.action == "lock" else self.stove.unlock
        outcomes = await act(names)
        await self.recorder.outcomes(outcomes, source=command.source,
                                     requested_by=command.requested_by)
        return self._results(outcomes)

    async def status(self, names: Iterable[str]) -> list[Result]:
        return self._results(await self._read_relays(names))

    async def _read_relays(self, names: Iterable[str]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for outcome in await self.stove.status(names):
            if failed := self._failed_timer(outcome.burner):
                outcome = replace(outcome, ok=False, message=f"{outcome.message}; {failed}")
            outcomes.append(outcome)
        return outcomes

    def _failed_timer(self, name: str) -> str | None:
        """What to say of a timer whose shut-off failed and that waits to try again."""
        timer = self.timers.get(name)
        problem = self.problem[name]
        if (timer is None or problem is None or name in self._firing
                or timer.due_at > self.clock.wall()):
            return None
        return (f"its timer (due {local_clock(timer.due_at)}) shut-off FAILED ({problem}); "
                f"it stays armed and tries again until a cut is confirmed "
                f"(`stove cancel {name}` stops it)")

    async def _set_timers(self, names: list[str], command: Command) -> list[Result]:
        assert command.delay_s is not None
        now = self.clock.wall()
        new = [Timer(name, now + command.delay_s, now, command.source, command.requested_by)
               for name in names]
        async with self._arming:
            # On disk before anyone is told, or none is armed: a reply must never
            # claim a timer that a crash right after it would lose.
            await self.disk.run(self.store.put_timers, new)
            return self._armed(new, now, command)

    def _armed(self, new: list[Timer], now: float, command: Command) -> list[Result]:
        assert command.delay_s is not None
        # (one deadline for all: told once, not formatted per burner)
        due = iso(new[0].due_at)
        said = f"shut-off at {local_clock(new[0].due_at)} (in {format_duration(command.delay_s)})"
        results: list[Result] = []
        for timer in new:
            name = timer.burner
            old = self.timers.get(name)
            self._cancel_task(name)
            self._schedule(timer)
            message = said if old is None else f"{said}; {replaced_message(old, now)}"
            _LOG.info("timer set for %s: due %s, from %s", name, due, command.source)
            self.recorder.event(name, "timer_replaced" if old else "timer_set", command.source,
                                requested_by=command.requested_by, reason=f"due {due}")
            results.append({"burner": name, "action": "timer", "ok": True, "message": message,
                            "timer": timer.as_json(now), "replaced": old is not None,
                            "locked": self.stove.locked(name)})
        self._changed([timer.burner for timer in new])
        return results

    async def cut(self, name: str, source: str) -> Result:
        """An automatic cut of one burner, by its name (the guard's: no words to resolve,
        which costs O(burners) each)."""
        (result,) = await self._shut_off_now([name], Command("off", (name,), source=source))
        return result

    async def _shut_off_now(self, names: list[str], command: Command) -> list[Result]:
        if len(names) == 1:  # (no task of its own: a guard cut is one, and a thousand come at once)
            cuts = [await self._cut_now(names[0], command)]
        else:
            cuts = await asyncio.gather(*(self._cut_now(n, command) for n in names))
        outcomes = [outcome for outcome, _ in cuts]
        for o in outcomes:
            _log_outcome(o, f"from {command.source}")
        await self.recorder.outcomes(outcomes, source=command.source,
                                     requested_by=command.requested_by)
        results = self._results(outcomes)
        for result, (_, note) in zip(results, cuts, strict=True):
            result["message"] += note
        return results

    async def _cut_now(self, name: str, command: Command) -> tuple[Outcome, str]:
        """Cut one burner now; a confirmed cut covers its pending timer, a failed one not.

        The cut comes first: nothing the database does may stand in its way.
        The burner's timer is settled before ``_cutting`` is released, so a
        timer coming due during the cut neither pulses again right after a
        confirmed one nor is lost after a failed one (it then fires itself).
        """
        async with self._cutting[name]:
            started = self.clock.monotonic()
            timer = self.timers.get(name)
            outcome = await self.stove.shut_off_burner(name)
            if cut_confirmed(outcome):
                self._confirmed_at[name] = started
                # (a timer set during the cut asked for a later shut-off; one
                # firing settles itself, seeing _confirmed_at)
                if timer is not None and self.timers.get(name) is timer \
                        and name not in self._firing:
                    return outcome, await self._drop_covered(timer, command)
            armed = self.timers.get(name)
            return outcome, (f"; its timer at {local_clock(armed.due_at)} stays armed"
                             if armed is not None else "")

    async def _drop_covered(self, timer: Timer, command: Command) -> str:
        """A confirmed cut did the timer's work: drop it (from the store best effort).

        Returns what to tell the user of it: never "cancelled" when it is still stored.
        """
        self._cancel_task(timer.burner)
        del self.timers[timer.burner]
        reason = f"covered by a confirmed cut; was due {iso(timer.due_at)}"
        try:  # (only that timer: one set meanwhile stays)
            await self.disk.run(self.store.delete_timers, [timer])
        except StoreError as err:
            _LOG.error("%s; it fires once more if the daemon restarts", err)
            self.recorder.event(timer.burner, "timer_cancelled", command.source,
                                requested_by=command.requested_by, result="failed",
                                reason=f"{reason}; NOT removed from the database")
            return ("; its pending timer is no longer needed and will not fire now, but it is "
                    f"still stored ({err}): it fires once more if the daemon restarts")
        self.recorder.event(timer.burner, "timer_cancelled", command.source,
                            requested_by=command.requested_by, reason=reason)
        return "; its pending timer is no longer needed and was cancelled"

    async def _cancel(self, names: list[str], command: Command) -> list[Result]:
        async with self._arming:
            dropped = {name: timer for name in names if name not in self._firing
                       and (timer := self.timers.get(name)) is not None}
            await self._drop_timers(list(dropped.values()))
            return self._cancelled(names, dropped, command)

    def _cancelled(self, names: list[str], dropped: dict[str, Timer],
                   command: Command) -> list[Result]:
        results: list[Result] = []
        for name in names:
            timer = dropped.get(name)
            if timer is None and name in self._firing:
                results.append({"burner": name, "action": "cancel", "ok": False,
                                "message": "too late: the timer's shut-off is under way",
                                "timer": None, "locked": self.stove.locked(name)})
                continue
            if timer is not None:
                _LOG.info("timer for %s cancelled", name)
                self.recorder.event(name, "timer_cancelled", command.source,
                                    requested_by=command.requested_by,
                                    reason=f"was due {iso(timer.due_at)}")
            message = (f"timer cancelled (was due {local_clock(timer.due_at)})" if timer
                       else "no timer was pending")
            results.append({"burner": name, "action": "cancel", "ok": True, "message": message,
                            "timer": None, "locked": self.stove.locked(name)})
        self._changed(names)
        return results

    # -- timers -------------------------------------------------------------------
    def _schedule(self, timer: Timer, *, again: int = 0) -> None:
        """Wait for ``timer``; ``again``: its round of tries after all of them failed."""
        now_wall, now_mono = self.clock.wall(), self.clock.monotonic()
        deadline, due = monotonic_deadline(timer, now_wall, now_mono), timer.due_at
        late_at_start = lateness(timer, now_wall)
        if again:
            pause = retry_pause(again)
            deadline, due, late_at_start = now_mono + pause, now_wall + pause, late_at_start + pause
        self.timers[timer.burner] = timer
        task = asyncio.create_task(self._wait_and_fire(timer, deadline, due, late_at_start, again),
                                   name=f"timer-{timer.burner}")
        self._tasks[timer.burner] = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _wait_and_fire(self, timer: Timer, deadline: float, due: float,
                             late_at_start: float, again: int) -> None:
        fired = await self._alarm(_Waiting(timer, deadline, late_at_start,
                                           asyncio.get_running_loop().create_future()), due)
        first = None
        if fired is None:
            # An immediate cut under way may cover this timer: wait for its outcome
            # (a confirmed one cancels this task) rather than pulse right after it.
            async with self._cutting[timer.burner]:
                pass
            late = late_at_start + max(0.0, min(self.clock.monotonic() - deadline,
                                                self.clock.wall() - due))
            self._start_firing(timer)
            started = self.clock.monotonic()
        else:
            late, started, first = fired
        try:
            outcome = await self._fire_with_retries(timer, first)
        except Exception as err:  # a bug must not lose the timer: it stays armed below
            _LOG.exception("internal error firing the timer of %s", timer.burner)
            outcome = Outcome(timer.burner, "shut_off", False, "unknown",
                              f"shut-off NOT confirmed: internal error ({type(err).__name__}; "
                              "see the daemon's log)", failure="internal")
        finally:
            self._firing.discard(timer.burner)
        mine = self.timers.get(timer.burner) is timer  # not replaced while firing
        covered = self._confirmed_at.get(timer.burner, -1.0) >= started
        if cut_confirmed(outcome) or covered:
            self.disk.later(self.store.delete_fired, timer)
            if mine:
                del self.timers[timer.burner]
        elif mine:
            # docs/design.md §2 rule 2: only a cancel or a confirmed cut removes it.
            self._schedule(timer, again=again + 1)
            _LOG.error("timer of %s stays armed: its shut-off is tried again in %s "
                       "(`stove cancel %s` stops it)", timer.burner,
                       format_duration(retry_pause(again + 1)), timer.burner)
        _log_outcome(outcome, f"by timer set from {timer.source}, {late:.3f} s late")
        by = f"set from {timer.source}" + (f" by {timer.requested_by}" if timer.requested_by else "")
        self.recorder.event(timer.burner, "timer_fired", "timer", requested_by=by,
                            reason=f"{late:.1f} s late", latency_ms=round(late * 1000))
        await self.recorder.outcomes([outcome], source="timer", requested_by=by)
        for listener in self.fired:
            listener(timer, outcome, late)
        self._remember([outcome])

    async def _alarm(self, waiting: _Waiting, due: float) -> Fired | None:
        """Wait with every timer due at the same instant for their one alarm.

        Ten thousand timers of one command are one wake-up and one shut-off of ten
        thousand burners, sent before any of their tasks runs again (a wake-up per
        timer, and then their shut-offs, made the last one ~0.3 s late; issue 17).
        """
        key = (due, math.ceil(waiting.deadline * 1000))  # (deadlines within 1 ms: one alarm)
        group = self._alarms.get(key)
        if group is None:
            group = self._alarms[key] = {}
            ring = asyncio.create_task(self._ring(key, group), name=f"alarm-{due}")
            self._rings.add(ring)
            ring.add_done_callback(self._rings.discard)
        name = waiting.timer.burner
        group[name] = waiting
        try:
            return await waiting.woken
        finally:
            if group.get(name) is waiting:  # (cancelled: replaced or cancelled timer)
                del group[name]

    async def _ring(self, key: tuple[float, int], group: dict[str, _Waiting]) -> None:
        # Fired at the earlier of the monotonic deadline and the wall-clock due
        # instant (see monotonic_deadline): a clock that was behind when the timer was
        # restored, and that NTP then corrects, does not add its error to the wait.
        due, deadline = key[0], key[1] / 1000
        try:
            while group and (wait := min(deadline - self.clock.monotonic(),
                                         due - self.clock.wall())) > 0:
                await self.clock.sleep(min(wait, WALL_CHECK_S))
        finally:
            if self._alarms.get(key) is group:  # (a timer set from now on has a new alarm)
                del self._alarms[key]
        fired: dict[str, tuple[_Waiting, float]] = {}
        started = self.clock.monotonic()
        for name, waiting in group.items():
            if waiting.woken.done():
                continue  # (its task was cancelled)
            if self._cutting[name].locked():
                waiting.woken.set_result(None)  # it waits for that cut itself
                continue
            self._start_firing(waiting.timer)
            # (each timer's own lateness: the clocks read as its turn came)
            late = waiting.late_at_start + max(0.0, min(
                self.clock.monotonic() - waiting.deadline, self.clock.wall() - due))
            fired[name] = (waiting, late)
        if fired:
            # The first shut-off of them all before any of their tasks runs again; its
            # own task, so that a stop (which cancels the alarms) lets it finish.
            cut = asyncio.create_task(self._first_cut(fired, started), name="timers-due")
            self._running.add(cut)
            cut.add_done_callback(self._running.discard)

    def _start_firing(self, timer: Timer) -> None:
        """From here the shut-off runs to its end: a cancel that arrives now is too late."""
        self._tasks.pop(timer.burner, None)
        self._firing.add(timer.burner)
        self.disk.later(self.store.mark_firing, timer)

    async def _first_cut(self, fired: dict[str, tuple[_Waiting, float]], started: float) -> None:
        """One shut-off of every burner whose timer fired together (each its own outcome);
        each timer's task goes on with its outcome (its retries, records, removal)."""
        loop = asyncio.get_running_loop()
        first = {name: loop.create_future() for name in fired}
        try:
            for outcome in await self.stove.shut_off(list(fired)):
                first[outcome.burner].set_result(outcome)
        except Exception as err:  # each timer then says so and stays armed
            for future in first.values():
                if not future.done():
                    future.set_exception(err)
        for name, (waiting, late) in fired.items():
            if not waiting.woken.done():
                waiting.woken.set_result((late, started, first[name]))

    async def _fire_with_retries(self, timer: Timer,
                                 first: asyncio.Future[Outcome] | None) -> Outcome:
        """``first``: the outcome of the first attempt, made with the timers due with it."""
        async def attempt() -> Outcome:
            nonlocal first
            if first is not None:
                made, first = first, None
                return await made
            return await self.stove.shut_off_burner(timer.burner)

        return await shut_off_with_retries(attempt, sleep=self.clock.sleep,
                                           retry_after=self.retry_after)

    def _cancel_task(self, name: str) -> None:
        if task := self._tasks.pop(name, None):
            task.cancel()

    async def _drop_timers(self, timers: list[Timer]) -> None:
        """Disarm ``timers`` now, then take them off the disk; if the store refuses, they
        are armed again (due when they were) and StoreError says the cancel failed, rather
        than a timer lost unsaid or one that comes back after a restart."""
        for timer in timers:
            self._cancel_task(timer.burner)
            del self.timers[timer.burner]
        try:
            await self.disk.run(self.store.delete_timers, timers)
        except StoreError:
            for timer in timers:
                if timer.burner not in self.timers:
                    self._schedule(timer)
            raise

    # -- flame input ---------------------------------------------------------------
    def flame(self, name: str, lit: bool) -> None:
        """The burner's flame input reports lit or out (the guard counts from it)."""
        was, self.lit[name] = self.lit[name], lit
        if lit == was:
            return
        _LOG.info("%s flame %s", name, "lit" if lit else "out")
        self.recorder.event(name, "flame_lit" if lit else "flame_out", "mqtt")
        self.guard.flame(name, lit)
        self._changed([name])

    async def move_timer(self, name: str, due_at: float) -> bool:
        """Move the burner's pending timer to ``due_at`` (a snooze); False if it is firing.

        As a cancel does: disarmed first (so it cannot start firing while the move is being
        written), on disk before anyone is told, armed again as it was if the store refuses.
        """
        async with self._arming:
            timer = self.timers.get(name)
            if timer is None or name in self._firing:
                return False
            moved = replace(timer, due_at=due_at)
            self._cancel_task(name)
            try:
                await self.disk.run(self.store.put_timers, [moved])
            except StoreError:
                self._schedule(timer)
                raise
            self._schedule(moved)
        self.recorder.event(name, "timer_replaced", "snooze", reason=f"due {iso(due_at)}")
        self._changed([name])
        return True

    # -- views ----------------------------------------------------------------------
    def about(self) -> dict[str, Any]:
        """Which configuration this daemon runs, since when (UTC), and its process."""
        return {"config": self.source.path if self.source else None, "since": iso(self.started_at),
                "started_at": self.started_at, "pid": os.getpid()}

    def _results(self, outcomes: list[Outcome]) -> list[Result]:
        """Remember what the relays said, tell listeners, and give the answers."""
        self._remember(outcomes)
        results: list[Result] = []
        for outcome in outcomes:
            timer = self.timers.get(outcome.burner)
            results.append({**outcome.as_json(), "locked": self.stove.locked(outcome.burner),
                            "timer": timer.as_json(self.clock.wall()) if timer else None,
                            "warning": self.guard.warning(outcome.burner),
                            "flame": flame_word(
                                self.stove.config.burners[outcome.burner].flame is not None,
                                self.lit[outcome.burner])})
        return results

    def _remember(self, outcomes: list[Outcome]) -> None:
        """Remember what the relays said and tell listeners. (Without the answers: the
        poll's answers for ten thousand burners, a dict each, were ~10 MB built and
        dropped every round, and the heap kept the space, issue 17.)"""
        for outcome in outcomes:
            reachable = outcome.relay != "unknown"
            if outcome.action == "status":
                self._reachability(outcome.burner, reachable, "poll", outcome.message)
            self.relay[outcome.burner] = _RELAY_STATES[outcome.relay, reachable]
            if outcome.action == "shut_off":
                self.problem[outcome.burner] = None if outcome.ok else outcome.message
        self._changed([o.burner for o in outcomes])

    def _reachability(self, name: str, reachable: bool, source: str, reason: str) -> None:
        """Record a relay going unreachable or coming back (not its first reading)."""
        was = self.relay[name][1]
        if was is not None and reachable != was:
            self.recorder.event(name, "relay_back" if reachable else "relay_unreachable",
                                source, result="done" if reachable else "failed",
                                reason="" if reachable else reason)

    def relay_reported(self, name: str, online: bool | None, energised: bool | None) -> None:
        """The relay's own message changed what we know: its availability (LWT) or its
        state (a live report, a pulse under way). Passed on now, not at the next poll."""
        back = self.relay[name][1] is False
        if online is False:
            self._reachability(name, False, "mqtt", "its availability topic says offline")
            self.relay[name] = _RELAY_STATES["unknown", False]
        elif energised is not None:
            self._reachability(name, True, "mqtt", "")
            self.relay[name] = _RELAY_STATES[
                self.stove.config.burners[name].plan().describe(energised), True]
        if back and online is not False:
            # "Online", or a report that may be from before it went away: read it now
            task = asyncio.get_running_loop().create_task(self._read(name))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self._changed([name])

    async def _read(self, name: str) -> None:
        self._remember(await self._read_relays([name]))

    def burner_state(self, name: str) -> dict[str, Any]:
        relay, reachable = self.relay[name]
        timer = self.timers.get(name)
        return burner_state(relay=relay, reachable=reachable, locked=self.stove.locked(name),
                            timer_due=timer.due_at if timer else None, lit=self.lit[name],
                            problem=self.problem[name], cutting=self.stove.shutting_off(name),
                            now=self.clock.wall(), warning=self.guard.warning(name))

    async def poll(self, interval: float) -> None:
        """Read every relay now and then, so reachability and state stay current.

        Each round also finishes a pulse that a one-shot command (run while the
        daemon did not answer) left open when it was killed: otherwise it would
        wait for the next command on that burner or the next start.
        """
        names = list(self.stove.config.burners)
        while True:
            if finished := await self.stove.finish_pulses(names):
                await self.recorder.outcomes(finished, source="poll")
            self._remember(await self._read_relays(names))
            # (a round's reports, and what came before it, are done with: a quiet moment)
            give_back_freed_memory()
            await self.clock.sleep(interval)

    def _changed(self, names: list[str]) -> None:
        for listener in self.listeners:
            listener(names)

    changed = _changed  # (for the guard: its warnings are part of a burner's state)


def _log_outcome(outcome: Outcome, how: str) -> None:
    level = logging.INFO if outcome.ok else logging.ERROR
    _LOG.log(level, "%s %s %s: %s", outcome.burner, outcome.action, how, outcome.message)
