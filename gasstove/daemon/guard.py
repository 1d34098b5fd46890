"""The stove guard in the daemon: feeds :class:`gasstove.domain.guard.Guard` and does what
it says, on the daemon's clock (injected: tests never wait for ten real minutes).

Warnings go to ``warning_listeners`` (MQTT ``<base>/warning``) and into each burner's
state; notes of every automatic cut to the recorder (``alerts.on_cut``, MQTT
``<base>/event``). Neither is awaited by a cut: a warning that cannot be delivered
anywhere does not hold the cut back, and a note is sent after the cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..domain.commands import Command
from ..domain.dialects import ParseError
from ..domain.durations import format_duration
from ..domain.guard import (
    HAZARD_RETRY_S,
    HAZARD_WORDS,
    Guard,
    GuardConfig,
    HazardInput,
    Look,
    Pending,
    SnoozeRefused,
    cut_text,
    title,
    warning_text,
    why,
)
from ..domain.timers import Timer, iso, local_clock

if TYPE_CHECKING:
    from ..control import Outcome
    from .service import Daemon, Result

_LOG = logging.getLogger("gasstove.guard")

Warning = dict[str, Any]


class GuardDriver:
    def __init__(self, daemon: Daemon, config: GuardConfig) -> None:
        self.daemon = daemon
        self.config = config
        self.clock = daemon.clock
        burners = daemon.stove.config.burners
        self.guard = Guard.new(config, {n: (b.max_burn, b.flame is not None)
                                        for n, b in burners.items()}, self.clock.monotonic())
        #: The warnings as last announced, by burner.
        self.shown: dict[str, Pending] = {}
        #: Called with every warning announced or withdrawn (MQTT ``<base>/warning``).
        self.warning_listeners: list[Callable[[Warning], None]] = []
        #: Called when what :meth:`state` says changed (MQTT ``<base>/guard``).
        self.state_listeners: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        #: Burners to look at again at once, and (instant, burner) to look at later.
        self._dirty: set[str] = set(self.guard.burners)
        self._marks: list[tuple[float, str]] = []
        self._stopping = asyncio.Event()
        #: Each burner's timer (its wall-clock due) as the guard was last told of it.
        self._timer_due: dict[str, float | None] = {}
        #: What each hazard input's availability topics last said.
        self._online: dict[tuple[int, str], bool] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        daemon.listeners.append(self._timers_changed)
        daemon.fired.append(self._timer_fired)

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        self._timers_changed(list(self.daemon.timers))
        self._spawn(self._run())

    async def stop(self) -> None:
        """Stop watching; a cut under way and the notes already due are let finish (the
        cut is bounded by its deadline and pulse, a note program by its timeout)."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            now = self.clock.monotonic()
            try:
                self._step(now)
            except Exception:  # a bug must not stop the guard: it looks at every burner again
                _LOG.exception("internal error in the stove guard")
                self._dirty.update(self.guard.burners)
                await self._pause(1.0)
                continue
            wake = self._marks[0][0] if self._marks else None
            await self._pause(None if wake is None else wake - now, self._wake)
            self._wake.clear()

    def _step(self, now: float) -> None:
        # Only the burners something happened to, or whose time came: a thousand
        # timers firing must not cost a thousand looks at every burner.
        names, self._dirty = self._dirty, set()
        while self._marks and self._marks[0][0] <= now:
            names.add(heapq.heappop(self._marks)[1])
        changed = []
        for name in names:
            look = self.guard.look(name, now)
            if self._announce(name, look, now):
                changed.append(name)
            if look.due and look.pending is not None:
                self.guard.cut_started(name)
                self._spawn(self._cut(look.pending))
            if look.wake is not None:
                heapq.heappush(self._marks, (look.wake, name))  # (a stale one costs a look)
        if changed:
            self.daemon.changed(changed)

    async def _pause(self, seconds: float | None, *events: asyncio.Event) -> None:
        """Sleep on the daemon's clock until ``seconds`` pass (None: forever), one of
        ``events`` is set, or the guard stops."""
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(e.wait())
                                            for e in (self._stopping, *events)]
        if seconds is not None:
            waits.append(asyncio.ensure_future(self.clock.sleep(seconds)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _poke(self, *names: str) -> None:
        """Look at ``names`` (none: every burner) again now."""
        self._dirty.update(names or self.guard.burners)
        self._wake.set()

    # -- inputs -------------------------------------------------------------------
    def flame(self, name: str, lit: bool) -> None:
        if self.guard.flame(name, lit, self.clock.monotonic()):
            self._poke(name)

    def presence(self, payload: bytes, retained: bool) -> None:
        assert self.config.presence is not None
        try:
            present = self.config.presence.parse(payload)
        except ParseError as err:
            _LOG.warning("ignored a presence message (%d bytes): %s", len(payload), err)
            return
        if present is None:
            return
        if retained:
            _LOG.info("presence: a retained %r is of unknown age: not taken as someone in "
                      "the kitchen", "present" if present else "away")
        if self.guard.presence(present, self.clock.monotonic(), retained=retained):
            _LOG.info("presence: %s", "someone in the kitchen" if present else "nobody")
            self._poke()
            self._state_changed()

    def hazard(self, index: int, payload: bytes, retained: bool) -> None:
        hazard = self.config.hazards[index]
        try:
            alarm = hazard.parse(payload)
        except ParseError as err:
            _LOG.warning("ignored a message of the %s (%d bytes): %s", hazard.label(),
                         len(payload), err)
            return
        if alarm is None:
            return
        change = self.guard.hazard(index, alarm, retained=retained)
        if change is not None:
            self._state_changed()
        if change == "alarm":
            self._spawn(self._hazard_cut(index, retained))
        elif change == "clear":
            _LOG.warning("%s: clear again; the burners stay locked until a person unlocks "
                         "them (`stove unlock`)", hazard.label())
            self._note_hazard(index, "hazard_clear", f"{hazard.label()} clear again; the "
                              "burners stay locked until a person unlocks them")

    def hazard_availability(self, index: int, topic: str, payload: bytes, retained: bool) -> None:
        hazard = self.config.hazards[index]
        try:
            said = hazard.parse_availability(payload)
        except ParseError as err:
            _LOG.warning("ignored an availability message of the %s: %s", hazard.label(), err)
            return
        if said is None:
            return
        self._online[index, topic] = said
        online = all(self._online.get((index, t), True) for t in hazard.availability)
        if not self.guard.hazard_online(index, online):
            return
        self._state_changed()
        if online:
            _LOG.info("%s is online", hazard.label())
        else:
            # A sensor that went away is not a fire: warned of, never cut on.
            _LOG.warning("%s is OFFLINE: the guard cannot hear it", hazard.label())
            self._note_hazard(index, "hazard_offline",
                              f"{hazard.label()} is offline: the guard cannot hear it")

    # -- timers -------------------------------------------------------------------
    def _timers_changed(self, names: list[str]) -> None:
        wall, mono = self.clock.wall(), self.clock.monotonic()
        for name in names:
            timer = self.daemon.timers.get(name)
            due = None if timer is None else timer.due_at
            if due == self._timer_due.get(name):
                continue  # anchored once: a fresh reading of two clocks never quite agrees
            self._timer_due[name] = due
            self.guard.timer(name, None if due is None else mono + (due - wall))
            self._poke(name)

    def _timer_fired(self, timer: Timer, outcome: Outcome, late: float) -> None:
        self.shown.pop(timer.burner, None)
        self._spawn(self._note(timer.burner, "timer", None, outcome.ok or outcome.cut_ms is not None,
                               outcome.message, f"set from {timer.source}"))

    # -- snooze -------------------------------------------------------------------
    async def snooze(self, names: list[str], seconds: float, command: Command) -> list[Result]:
        results: list[Result] = []
        now, wall = self.clock.monotonic(), self.clock.wall()
        for name in names:
            try:
                until, note = self.guard.snooze(name, seconds, now)
            except SnoozeRefused as err:
                results.append(self._answer(name, False, str(err)))
                continue
            due_wall = wall + (until - now)
            message = f"automatic shut-offs held off until {local_clock(due_wall)}"
            if note:
                message += f" ({note})"
            timer = self.daemon.timers.get(name)
            if timer is not None and timer.due_at < due_wall:
                moved = await self.daemon.move_timer(name, due_wall)
                message += (f"; its timer moved to {local_clock(due_wall)}" if moved
                            else "; its timer is firing already: too late for it")
            # (a moved timer reached the guard through the daemon's listeners)
            self._announce(name, self.guard.look(name, now), now)  # withdrawn at once
            _LOG.info("%s snoozed until %s from %s", name, iso(due_wall), command.source)
            self.daemon.recorder.event(name, "snooze", command.source,
                                       requested_by=command.requested_by,
                                       reason=f"until {iso(due_wall)}")
            results.append(self._answer(name, True, message))
        self._poke(*names)
        self.daemon.changed(names)
        return results

    def _answer(self, name: str, ok: bool, message: str) -> Result:
        return {"burner": name, "action": "snooze", "ok": ok, "message": message,
                "locked": self.daemon.stove.locked(name), "warning": self.warning(name),
                "timer": None}

    # -- warnings -----------------------------------------------------------------
    def warning(self, name: str) -> Warning | None:
        """The warning standing for ``name`` now (for its state and status), or None."""
        pending = self.shown.get(name)
        if pending is None:
            return None
        return self._warning(pending, active=True)

    def _warning(self, p: Pending, *, active: bool, ended: str = "") -> Warning:
        now = self.clock.monotonic()
        left = p.seconds_left(now)
        warning: Warning = {
            "stove": self.daemon.stove.config.name, "burner": p.burner, "reason": p.reason,
            "active": active, "seconds_left": left if active else None,
            "cut_at": iso(self.clock.wall() + (p.at - now)) if active else None,
            "message": (warning_text(p, left, title(p.burner)) if active
                        else f"{title(p.burner)}: warning withdrawn ({ended})"),
        }
        if not active:
            warning["ended"] = ended
        return warning

    def _announce(self, name: str, look: Look, now: float) -> bool:
        """Announce, re-announce (moved) or withdraw the burner's warning; whether it changed."""
        shown = self.shown.get(name)
        if look.warn and look.pending is not None:
            if shown == look.pending:
                return False
            warning = self._warning(look.pending, active=True)
            self.shown[name] = look.pending
            _LOG.warning("WARNING: %s", warning["message"])
            self._tell(warning)
            return True
        if shown is None:
            return False
        del self.shown[name]  # (a cut pops its own)
        self._tell(self._warning(shown, active=False, ended=self.guard.ended(name, shown)))
        return True

    def _tell(self, warning: Warning) -> None:
        for listener in self.warning_listeners:
            try:
                listener(warning)
            except Exception:  # a channel's bug must not stop the guard
                _LOG.exception("a warning listener failed")

    # -- cuts ---------------------------------------------------------------------
    async def _cut(self, p: Pending) -> None:
        name = p.burner
        if p.reason == "max_burn":
            _LOG.warning("%s has burned for %s (its max_burn): shutting it off",
                         name, format_duration(p.limit or 0))
        else:
            _LOG.warning("%s: %s: shutting it off", name, why(p.reason, p.limit))
        self.daemon.recorder.event(name, p.reason, p.reason, reason=why(p.reason, p.limit))
        confirmed, message = False, "internal error (see the daemon's log)"
        try:
            result = await self.daemon.cut(name, p.reason)
            confirmed = result["ok"] or result.get("cut_ms") is not None
            message = result["message"]
        except Exception:  # a bug must not stop the guard: it tries again
            _LOG.exception("internal error in the guard's shut-off of %s", name)
        finally:
            self.guard.cut_done(name, confirmed, self.clock.monotonic())
            self.shown.pop(name, None)
            self._poke(name)
        await self._note(name, p.reason, p.limit, confirmed, message, "guard")

    async def _note(self, name: str, reason: str, limit: float | None, confirmed: bool,
                    message: str, source: str) -> None:
        text = cut_text(reason, title(name), limit)
        if not confirmed:
            text = f"{title(name)} NOT shut off ({why(reason, limit)}): {message}"
        await self.daemon.recorder.note({
            "stove": self.daemon.stove.config.name, "burner": name, "reason": reason,
            "result": "done" if confirmed else "failed", "message": text, "source": source,
            "at": iso(self.clock.wall())})

    # -- hazards ------------------------------------------------------------------
    async def _hazard_cut(self, index: int, retained: bool) -> None:
        """Every burner cut and locked at once, no grace; tried again while a lock fails."""
        hazard = self.config.hazards[index]
        names = list(self.daemon.stove.config.burners)
        _LOG.critical("%s ALARM%s: cutting and locking every burner", hazard.label(),
                      " (retained: it was on when we connected)" if retained else "")
        pauses = iter(HAZARD_RETRY_S)
        pause = 0.0
        todo = names
        while todo:
            results = await self.daemon.handle(Command("lock", tuple(todo), source="hazard"))
            failed = [r["burner"] for r in results if not r["ok"]]
            for r in results:
                if not r["ok"]:
                    await self.daemon.recorder.alert({
                        "stove": self.daemon.stove.config.name, "burner": r["burner"],
                        "action": "lock", "result": "failed", "source": "hazard",
                        "reason": f"{hazard.label()}: {r['message']}", "requested_by": "",
                        "at": iso(self.clock.wall())})
            done = [n for n in todo if n not in failed]
            for name in done:  # (a confirmed lock is a cut: every count starts again)
                self.guard.cut_done(name, True, self.clock.monotonic())
            if done:
                self._poke(*done)
            if done or todo is names:  # (the first round is noted even if nothing held)
                await self.daemon.recorder.note(self._hazard_note(hazard, names, done, failed),
                                                urgent=True)
            todo = failed
            if not todo or not self.guard.hazards[index].active or self._stopping.is_set():
                return
            pause = next(pauses, pause)
            await self._pause(pause)

    def _hazard_note(self, hazard: HazardInput, names: list[str], done: list[str],
                     failed: list[str]) -> dict[str, Any]:
        alarm = f"{HAZARD_WORDS[hazard.kind].capitalize()} alarm"
        what = "every burner" if done == names else ", ".join(done)
        message = f"{alarm}: {what} shut off and locked" if done else f"{alarm}:"
        if failed:
            message += (f"{';' if done else ''} {', '.join(failed)} NOT confirmed shut off, "
                        "tried again")
        message += "; a person must unlock (`stove unlock`) once it is safe"
        return {"stove": self.daemon.stove.config.name, "burner": None, "burners": done,
                "failed": failed, "reason": "hazard", "kind": hazard.kind,
                "result": "failed" if failed else "done", "message": message,
                "source": "hazard", "at": iso(self.clock.wall())}

    def _note_hazard(self, index: int, reason: str, message: str) -> None:
        hazard = self.config.hazards[index]
        self._spawn(self.daemon.recorder.note({
            "stove": self.daemon.stove.config.name, "burner": None, "reason": reason,
            "kind": hazard.kind, "result": "done", "message": message, "source": "hazard",
            "at": iso(self.clock.wall())}))

    def state(self) -> dict[str, Any]:
        """What the guard knows of the kitchen (status, check, MQTT ``<base>/guard``)."""
        now = self.clock.monotonic()
        away = self.guard.away_since
        return {
            "presence": None if self.config.presence is None else {
                "present": self.guard.present,
                "away_for_s": None if away is None else round(now - away),
                "away_after_s": self.config.away_after},
            "warn_before_s": self.config.warn_before,
            "hazards": [{"kind": h.kind, "topic": h.topic, "active": s.active,
                         "online": s.online}
                        for h, s in zip(self.config.hazards, self.guard.hazards, strict=True)],
        }

    def _state_changed(self) -> None:
        for listener in self.state_listeners:
            listener()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)
        return task


def _log_crash(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if (err := task.exception()) is not None:
            _LOG.error("guard task failed: %r", err)
