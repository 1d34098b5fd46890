"""What follows every action, for every front end: the history row, and for a
shut-off that was not confirmed, the alert on every channel the user has.

Channels (docs/design.md §2 rule 2, issue "every shut-off on the record"): a log
line at ERROR; the ``on_failure`` program with the alert as JSON on stdin;
and whatever the caller adds (the daemon publishes it on MQTT). Neither the
history nor an alert may fail or delay a cut: they run after it, and their
own failures are logged and swallowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .control import Outcome
from .domain.history import Event, Result, result_of
from .domain.timers import iso

_LOG = logging.getLogger("gasstove.alerts")

#: How long an ``on_failure`` or ``on_cut`` program may run before it is killed.
ON_FAILURE_TIMEOUT_S = 30.0
_ACTIONS = {"shut_off": "cut", "lock": "lock", "unlock": "unlock", "restore": "restore"}
#: Failures that leave the stove unsafe or unusable: a cut, a pulse left cutting.
_ALERTED = ("shut_off", "restore")

Alert = dict[str, Any]


class EventSink(Protocol):
    def record(self, events: Iterable[Event]) -> None: ...


class Recorder:
    def __init__(
        self,
        stove: str,
        log: EventSink | None,  #: None: nothing is recorded
        *,
        on_failure: list[str] | None = None,
        on_cut: list[str] | None = None,
        wall: Callable[[], float] = time.time,
        log_alerts: bool = True,
    ) -> None:
        self.stove = stove
        #: False in a one-shot command: its own result line is the alert on the terminal
        #: (the reason once, on one line); a daemon's log line is the alert in its log.
        self.log_alerts = log_alerts
        self.log = log
        self.on_failure = on_failure
        self.on_cut = on_cut
        self.wall = wall
        #: Called with every alert (the daemon's MQTT alert topic).
        self.alert_listeners: list[Callable[[Alert], None]] = []
        #: Called with every note of an automatic cut (the daemon's MQTT event topic).
        self.note_listeners: list[Callable[[Alert], None]] = []

    def event(self, burner: str, action: str, source: str, *, requested_by: str = "",
              result: Result = "done", reason: str = "", latency_ms: int | None = None) -> None:
        self.record([Event(self._now_ms(), self.stove, burner, action, source, requested_by,
                           result, reason, latency_ms)])

    def record(self, events: Iterable[Event]) -> None:
        if self.log is not None:
            self.log.record(events)

    async def outcomes(self, outcomes: Iterable[Outcome], *, source: str,
                       requested_by: str = "", action: str | None = None) -> None:
        """Record what was done; alert for every shut-off that was not confirmed."""
        now = self._now_ms()
        events, alerts = [], []
        for o in outcomes:
            name = action or _ACTIONS.get(o.action)
            if name is None:
                continue
            result = result_of(o.ok, o.sent)
            # (a shut-off of a locked burner holds it: say so, as for a restore)
            plain = o.action != "restore" and (o.action != "shut_off" or o.restored)
            reason = "" if o.ok and plain else o.message
            events.append(Event(now, self.stove, o.burner, name, source, requested_by, result,
                                reason, o.cut_ms))
            if not o.ok and o.action in _ALERTED:
                alerts.append({"stove": self.stove, "burner": o.burner, "action": name,
                               "result": result, "reason": o.message, "source": source,
                               "requested_by": requested_by, "at": iso(now / 1000)})
        self.record(events)
        for alert in alerts:
            await self.alert(alert)

    async def alert(self, alert: Alert) -> None:
        if self.log_alerts:
            _LOG.error("ALERT: %s %s NOT confirmed (%s, from %s): %s", alert["burner"],
                       alert["action"], alert["result"], alert["source"], alert["reason"])
        for listener in self.alert_listeners:
            listener(alert)
        if self.on_failure:
            await run_program("on_failure", self.on_failure, alert)

    async def note(self, note: Alert, *, urgent: bool = False) -> None:
        """An automatic cut (or a guard event) happened: tell every channel; never raises.
        Run after the cut, never before it: a note that cannot be delivered holds nothing.
        ``urgent`` (a hazard alarm): the ``on_failure`` program too, the user's urgent
        channel (not the MQTT alert topic, whose readers expect a failed shut-off)."""
        level = logging.INFO if note.get("result", "done") == "done" else logging.ERROR
        _LOG.log(logging.CRITICAL if urgent else level, "NOTE: %s", note["message"])
        for listener in self.note_listeners:
            listener(note)
        if self.on_cut:
            await run_program("on_cut", self.on_cut, note)
        if urgent and self.on_failure:
            await run_program("on_failure", self.on_failure, note)

    def _now_ms(self) -> int:
        return int(self.wall() * 1000)


async def run_program(what: str, argv: list[str], alert: Alert) -> None:
    """Run the user's ``what`` program (no shell) with the alert on stdin; never raise."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
    except OSError as err:
        _LOG.error("%s program %s could not start: %s", what, argv[0], err.strerror or err)
        return
    try:
        _, err_out = await asyncio.wait_for(
            proc.communicate(json.dumps(alert, ensure_ascii=False).encode() + b"\n"),
            ON_FAILURE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        _LOG.error("%s program %s killed after %.0f s", what, argv[0], ON_FAILURE_TIMEOUT_S)
        return
    if proc.returncode:
        last = err_out.decode(errors="replace").strip().splitlines()[-1:] or [""]
        _LOG.error("%s program %s exited %d: %s", what, argv[0], proc.returncode, last[0][:200])
