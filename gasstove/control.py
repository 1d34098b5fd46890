"""Shut-off, lock, unlock and status of a stove's burners, for every front end.

The CLI, the daemon and Home Assistant all act through :class:`Stove`, so the
safety rules of docs/design.md §2 are kept in one place: a shut-off always sends its
cut and is confirmed by the relay's own report after it, or reported failed; a
pulse is always restored, by this process or, if it dies, by the next one to
act on the burner; a locked burner stays locked. One action at a time per
burner, across processes too (:mod:`gasstove.adapters.burner_guard`); reads
never wait for an action, so a shut-off never queues behind a status poll.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Self, cast

from .adapters.burner_guard import (
    BurnerBusy,
    BurnerGuard,
    BurnerRecord,
    Hold,
    MemoryBurnerGuard,
    Pulse,
)
from .domain.answers import Answer
from .domain.config import ALL_WORDS, StoveConfig
from .domain.durations import format_duration
from .domain.errors import RelayError, UsageError
from .domain.relay import Relay, RelayState
from .domain.timers import local_clock

_LOG = logging.getLogger(__name__)

#: Reads under way at once in one status of many burners (the daemon's poll of every
#: relay): ten thousand at once hold ten thousand coroutines, futures, timers and MQTT
#: messages at the same time, the daemon's memory high water (issue 17), and gain
#: nothing once the connection is busy. A silent relay holds one of them until its
#: deadline; the others go on.
READS_AT_ONCE = 1000

#: "restore": a pulse cut short by a crash, finished by the next one to act.
Action = Literal["shut_off", "lock", "unlock", "status", "restore"]
Sleep = Callable[[float], Awaitable[None]]
Act = Callable[[str, Hold], Awaitable["Outcome"]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one burner, as the user will read it."""

    burner: str
    action: Action
    ok: bool  #: done and confirmed by the relay's own report
    relay: RelayState  #: after the action
    message: str
    cut_ms: int | None = None  #: request to confirmed cut, for shut-off and lock
    restored: bool | None = None  #: shut-off only: the loop was closed again
    #: On failure: whether the command reached the relay (so it may have acted).
    sent: bool | None = None
    #: On failure, its kind as one word a front end translates: a RelayError's ``kind``
    #: (no_answer, token_rejected, refused, offline, unconfirmed, failed; a shut-off's
    #: restore's when ``restored`` is False), busy (another process acts on the burner),
    #: not_recorded (done, but not written to disk), internal.
    failure: str | None = None

    def as_json(self) -> Answer:
        # (plain values: asdict's deep copy costs 10x, per burner)
        return cast(Answer, dict(self.__dict__))


class Stove:
    def __init__(
        self,
        config: StoveConfig,
        relays: Mapping[str, Relay],
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        guard: BurnerGuard | None = None,
    ) -> None:
        """``guard`` keeps each burner's lock and pulse records and its exclusion; the
        default keeps them in this process only (give a FileBurnerGuard to share them
        with other processes and keep them across restarts)."""
        self.config = config
        self.relays = relays
        self._sleep = sleep
        self._now = monotonic
        self.guard: BurnerGuard = guard or MemoryBurnerGuard()
        # One action at a time per burner in this process (the guard does it
        # across processes): a timer firing while someone locks must not
        # interleave its restore with the lock.
        self._busy = {name: asyncio.Lock() for name in config.burners}
        #: Shut-offs under way, or waiting for their burner, by burner.
        self._shutting_off: collections.Counter[str] = collections.Counter()

    def resolve(self, words: Sequence[str]) -> list[str]:
        """Burner names for what the user typed (names, aliases, "all"); none means all."""
        names: dict[str, str] = {}
        for name, burner in self.config.burners.items():
            for word in (name, *burner.aliases):
                names[word.casefold()] = name
        chosen: list[str] = []
        for word in words:
            key = word.strip().casefold()
            if key in ALL_WORDS:
                return list(self.config.burners)
            if key not in names:
                known = ", ".join(self.config.burners)
                raise UsageError(f"unknown burner {word!r} (this stove has: {known})")
            if names[key] not in chosen:
                chosen.append(names[key])
        return chosen or list(self.config.burners)

    def locked(self, name: str) -> bool:
        """Whether a lock was asked for ``name`` (and no unlock confirmed since)."""
        return self.guard.record(name).locked

    # (Plain functions handing back the action's coroutine: an ``off`` of ten thousand
    # burners holds every burner's chain of coroutines from the command to the pulse's
    # end, the daemon's memory high water (issue 17); a wrapper's frame adds to each.)
    def shut_off(self, burners: Iterable[str]) -> Coroutine[Any, Any, list[Outcome]]:
        return self._each(burners, "shut_off", self._shut_off)

    def lock(self, burners: Iterable[str]) -> Coroutine[Any, Any, list[Outcome]]:
        return self._each(burners, "lock", self._lock)

    def unlock(self, burners: Iterable[str]) -> Coroutine[Any, Any, list[Outcome]]:
        return self._each(burners, "unlock", self._unlock)

    def shut_off_burner(self, name: str) -> Coroutine[Any, Any, Outcome]:
        """One burner's shut-off: :meth:`shut_off` without a list around it (the daemon
        cuts each burner in a task of its own, ten thousand at once)."""
        return self._one(name, "shut_off", self._shut_off)

    def shutting_off(self, name: str) -> bool:
        """Whether a shut-off of ``name`` is under way in this process (or waiting for
        the burner): the relay may be cutting for it, and will be restored."""
        return self._shutting_off[name] > 0

    async def status(self, burners: Iterable[str]) -> list[Outcome]:
        # A read changes nothing, so it waits for no action (and none waits for it).
        names = list(burners)
        outcomes: dict[int, Outcome] = {}
        todo = iter(enumerate(names))

        async def reader() -> None:
            for i, name in todo:
                outcomes[i] = await self._status(name)

        await asyncio.gather(*(reader() for _ in range(min(READS_AT_ONCE, len(names)))))
        return [outcomes[i] for i in range(len(names))]

    async def finish_pulses(self, burners: Iterable[str]) -> list[Outcome]:
        """Restore the pulses a crash cut short (none for a burner someone is acting on)."""
        left = [n for n in burners if self.guard.record(n).pulse and not self._acting(n)]
        return await self._each(left, "restore", self._finish)

    async def close(self) -> None:
        await asyncio.gather(*(relay.close() for relay in self.relays.values()))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the relays (and the broker link they share), however the block ended."""
        await self.close()

    async def _each(self, burners: Iterable[str], action: Action, act: Act) -> list[Outcome]:
        # Burners are independent: one dead relay must not delay the others' cut. (One
        # burner needs no task of its own: a thousand guard cuts due at once are a
        # thousand calls of one burner, each a task already.)
        names = list(burners)
        if len(names) == 1:
            return [await self._one(names[0], action, act)]
        return list(await asyncio.gather(*(self._one(name, action, act) for name in names)))

    async def _one(self, name: str, action: Action, act: Act) -> Outcome:
        # Another process's action ends within a deadline and a pulse; wait no longer.
        wait = self.config.deadline + self.config.burners[name].plan().seconds
        if action == "shut_off":
            self._shutting_off[name] += 1
        try:
            async with self._busy[name], self.guard.hold(name, wait=wait) as hold:
                return await act(name, hold)
        except BurnerBusy as err:
            what = action.replace("_", "-")
            return Outcome(name, action, False, "unknown", f"{what} NOT done: {err}",
                           sent=False, failure="busy")
        finally:
            if action == "shut_off":
                self._shutting_off[name] -= 1

    def _acting(self, name: str) -> bool:
        return self._busy[name].locked() or self.guard.busy(name)

    def _deadline(self) -> float:
        return self._now() + self.config.deadline

    async def _shut_off(self, name: str, hold: Hold) -> Outcome:
        if hold.record.locked:
            # A lock was asked for: cut and confirm the hold, and no restore.
            return await self._hold_open(name, "shut_off")
        if hold.record.pulse is not None:
            _LOG.warning("%s: %s; this shut-off's own pulse ends with a restore",
                         name, _cut_short(hold.record.pulse))
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        start = self._now()
        deadline = start + self.config.deadline
        # On disk before the cut: if this process dies mid-pulse, the next one
        # to act on the burner (or the daemon's next start) restores it.
        before = hold.record
        hold.write(before.with_pulse(Pulse(time.time(), f"pid {os.getpid()}")))
        sent = False
        try:
            await relay.switch(
                plan.cut, deadline=deadline,
                pulse_seconds=plan.seconds if plan.device_timed else None,
            )
            sent = True
            await relay.wait_for(plan.cut, deadline=deadline)
        except RelayError as err:
            # A command whose answer was lost may still have opened the loop: then the
            # pulse stays recorded, so the next command or start restores it.
            sent = sent or err.may_be_energised is not None
            if not sent:
                hold.write(before)  # nothing reached the relay: no pulse to finish
            return Outcome(name, "shut_off", False, "unknown", f"shut-off NOT confirmed: {err}",
                           sent=sent, failure=err.kind)
        cut_ms = round((self._now() - start) * 1000)
        try:
            await self._sleep(plan.seconds)
        except asyncio.CancelledError:
            # Cancelled mid-pulse (Ctrl-C): still put the loop back so the
            # burner can be relit, then let the cancellation through.
            await asyncio.shield(self._end_pulse(name, hold))
            raise
        restored_err = await self._end_pulse(name, hold)
        if restored_err is not None:
            return Outcome(
                name, "shut_off", False, "cutting",
                f"shut off (confirmed in {cut_ms} ms) but the relay did not restore: "
                f"{restored_err}; the burner cannot be relit until `stove unlock {name}`",
                cut_ms=cut_ms, restored=False, failure=restored_err.kind,
            )
        return Outcome(
            name, "shut_off", True, "resting",
            f"shut off: loop opened (confirmed in {cut_ms} ms) and closed again after "
            f"{format_duration(plan.seconds)}; relight by hand when wanted",
            cut_ms=cut_ms, restored=True,
        )

    async def _end_pulse(self, name: str, hold: Hold) -> RelayError | None:
        """Restore the loop; the pulse leaves the record once the relay confirms."""
        err = await self._restore(name)
        if err is None:
            hold.write(hold.record.with_pulse(None))
        return err

    async def _restore(self, name: str) -> RelayError | None:
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        deadline = self._deadline()
        try:
            await relay.switch(plan.rest, deadline=deadline)
            await relay.wait_for(plan.rest, deadline=deadline)
        except RelayError as err:
            return err
        return None

    async def _hold_open(self, name: str, action: Action) -> Outcome:
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        start = self._now()
        deadline = start + self.config.deadline
        sent = False
        try:
            await relay.switch(plan.cut, deadline=deadline)
            sent = True
            await relay.wait_for(plan.cut, deadline=deadline)
        except RelayError as err:
            what = "lock" if action == "lock" else "shut-off (locked burner)"
            return Outcome(name, action, False, "unknown", f"{what} NOT confirmed: {err}",
                           sent=sent or err.may_be_energised is not None, failure=err.kind)
        cut_ms = round((self._now() - start) * 1000)
        return Outcome(
            name, action, True, "cutting",
            f"locked: loop held open (confirmed in {cut_ms} ms); it cannot be lit "
            f"until `stove unlock {name}`",
            cut_ms=cut_ms,
        )

    async def _lock(self, name: str, hold: Hold) -> Outcome:
        if hold.record.pulse is not None:
            _LOG.warning("%s: %s; the lock keeps the loop open", name, _cut_short(hold.record.pulse))
        # Recorded as asked, before the cut: from now on a shut-off holds the
        # loop open rather than pulse it, even if this lock is not confirmed.
        # Its fsync (for a power cut) waits for the relay's answer, before we say
        # "locked": it no longer delays the cut (~10 ms).
        unsaved = hold.write(BurnerRecord(locked=True), sync_later=True)
        outcome = await self._hold_open(name, "lock")
        unsaved = unsaved or hold.sync()
        if unsaved is None:
            return outcome
        # The relay did what it did; say so, and that nothing else will know of the lock.
        lost = (f"the lock could NOT be recorded ({unsaved}): only this process knows of it, "
                f"and another command may end it; `stove lock {name}` again once it can be "
                "written")
        if outcome.ok:
            return replace(outcome, ok=False, sent=True, failure="not_recorded", message=(
                f"locked: the relay holds the loop open (confirmed in {outcome.cut_ms} ms), "
                f"but {lost}"))
        return replace(outcome, message=f"{outcome.message}; {lost}")

    async def _unlock(self, name: str, hold: Hold) -> Outcome:
        found = hold.record.pulse
        err = await self._restore(name)
        if err is not None:
            return Outcome(name, "unlock", False, "unknown", f"unlock NOT confirmed: {err}",
                           failure=err.kind)
        unsaved = hold.write(BurnerRecord())
        if found is not None:
            _LOG.warning("%s: %s; unlocked: restored", name, _cut_short(found))
        if unsaved is not None:
            return Outcome(name, "unlock", False, "resting", (
                "unlocked: the loop is closed and the burner can be lit by hand, but the unlock "
                f"could NOT be recorded ({unsaved}): other commands may still take it as "
                f"locked; `stove unlock {name}` again once it can be written"), sent=True,
                failure="not_recorded")
        return Outcome(name, "unlock", True, "resting", "unlocked: it can be lit by hand again")

    async def _finish(self, name: str, hold: Hold) -> Outcome:
        pulse = hold.record.pulse
        if pulse is None:  # finished by someone else while we waited for the burner
            return Outcome(name, "restore", True, "unknown", "pulse already finished")
        if hold.record.locked:
            hold.write(hold.record.with_pulse(None))
            _LOG.warning("%s: %s; a lock was asked for: left held off", name, _cut_short(pulse))
            return Outcome(name, "restore", True, "cutting",
                           f"{_cut_short(pulse)}; locked: left held off")
        err = await self._end_pulse(name, hold)
        if err is not None:
            return Outcome(name, "restore", False, "unknown",
                           f"relay left cutting: {_cut_short(pulse)} and it could NOT be "
                           f"restored: {err}; the burner cannot be lit until `stove unlock {name}`",
                           sent=True, failure=err.kind)
        _LOG.warning("%s: %s; restored: it can be lit by hand again", name, _cut_short(pulse))
        return Outcome(name, "restore", True, "resting", f"{_cut_short(pulse)}; restored")

    async def _status(self, name: str) -> Outcome:
        plan = self.config.burners[name].plan()
        record = self.guard.record(name)
        try:
            energised = await self.relays[name].read(deadline=self._deadline())
        except RelayError as err:
            message = f"relay not reachable: {err}"
            if record.locked:
                message += "; locked"
            elif record.pulse is not None and not self._acting(name):
                message += f"; relay maybe left cutting: {_cut_short(record.pulse)}"
            return Outcome(name, "status", False, "unknown", message, failure=err.kind)
        state = plan.describe(energised)
        if state == "resting":
            if record.locked and not self._acting(name):
                return Outcome(name, "status", False, state, (
                    "lock NOT in effect: a lock was asked for but the loop is closed, the "
                    f"burner can be lit; `stove lock {name}` holds it off again"))
            return Outcome(name, "status", True, state,
                           "ready: the loop is closed, the burner works normally")
        if record.locked:
            message = f"locked: held off, it cannot be lit until `stove unlock {name}`"
        elif self._acting(name):
            message = "held off: a shut-off is under way (the loop is open)"
        elif record.pulse is not None:
            message = (f"relay left cutting: {_cut_short(record.pulse)}; the burner cannot be "
                       f"lit until the next command on it or `stove unlock {name}`")
        else:
            message = ("relay left cutting (no lock or pulse of gasstove's is recorded): the "
                       f"burner cannot be lit until `stove unlock {name}`")
        return Outcome(name, "status", True, state, message)


def _cut_short(pulse: Pulse) -> str:
    return f"found a pulse cut short (cut at {local_clock(pulse.since)} by {pulse.by})"
