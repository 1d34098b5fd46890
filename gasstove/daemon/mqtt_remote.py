"""The daemon on MQTT: commands in, results and retained state out, HA discovery.

Runs on the daemon's shared broker connection. After every (re)connection it
subscribes, says ``online`` (the LWT says ``offline``), republishes discovery
and every burner's state; after the first, it also empties the retained
configs and states of burners it no longer serves (no ghost entities in Home
Assistant). A retained message on a command topic is never acted on: a
retained "off" (or "lock") would replay on every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from ..adapters.mqtt import MqttBroker
from ..domain.dialects import ParseError
from ..domain.errors import GasstoveError, RelayError, UsageError
from ..domain.flame import FlameInput
from ..domain.remote import OFFLINE, ONLINE, Remote, minutes_left, result_payload
from ..domain.voice import VoiceCommand, parse_utterance
from ..domain.voice.reply import reply as reply_text
from ..domain.voice.say import AnsweredIds, SayRequest, command_for, parse_say
from .service import Daemon

_LOG = logging.getLogger("gasstove.daemon")
#: A publish that is not acknowledged by then is given up; state is sent again on reconnect.
PUBLISH_DEADLINE_S = 10.0
#: Burner states published at once: enough to fill the pipe, few enough that a
#: relay command published meanwhile does not queue behind thousands of them.
STATE_WINDOW = 200
#: At most this long between looks at the pending timers' minutes left (the
#: "shut off in" number counts down; a state is only sent when its minute changes).
TICK_S = 10.0


class MqttRemote:
    def __init__(self, daemon: Daemon, broker: MqttBroker, remote: Remote) -> None:
        self.daemon = daemon
        self.broker = broker
        self.remote = remote
        self.flames: dict[str, FlameInput] = {
            name: burner.flame for name, burner in daemon.stove.config.burners.items()
            if burner.flame is not None
        }
        #: Input topics (flame, presence, hazard alarms and their LWTs): their readers.
        #: One topic may carry several inputs (a multi-sensor's JSON).
        self._inputs: dict[str, list[Callable[[bytes, bool], None]]] = {}
        for name, flame in self.flames.items():
            self._input(flame.topic, functools.partial(self._flame, name))
        guard = daemon.guard
        if guard.config.presence is not None:
            self._input(guard.config.presence.topic, guard.presence)
        for i, hazard in enumerate(guard.config.hazards):
            self._input(hazard.topic, functools.partial(guard.hazard, i))
            for topic in hazard.availability:
                self._input(topic, functools.partial(guard.hazard_availability, i, topic))
        self._hazards = bool(guard.config.hazards)
        #: The say topic's: burner words, ids answered, one utterance matched at a time.
        self._words = {name: tuple(burner.aliases)
                       for name, burner in daemon.stove.config.burners.items()}
        self._answered = AnsweredIds()
        self._hearing = asyncio.Lock()
        self._dirty: set[str] = set()
        #: Each burner's state as last published (and acknowledged) on this connection.
        self._published: dict[str, str] = {}
        self._flush: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._swept = False
        #: Every topic that makes us act, subscribed so a retained message is seen as one
        #: (made once: each connection's announce routes and subscribes them).
        self._commands = (*remote.command_topics(), remote.say)
        commands = set(self._commands)  # (a tuple's `in` was 10,000 x 10,000 comparisons)
        self._others = (*(t for t in remote.subscriptions() if t not in commands),
                        *self._inputs)
        broker.attach()
        broker.on_connect.append(self._connected)
        daemon.listeners.append(self._changed)
        daemon.recorder.alert_listeners.append(self._alert)
        daemon.recorder.note_listeners.append(self._note)
        guard.warning_listeners.append(self._warning)
        guard.state_listeners.append(self._guard_changed)

    @staticmethod
    def will(remote: Remote) -> tuple[str, str]:
        return remote.availability, OFFLINE

    def _input(self, topic: str, reader: Callable[[bytes, bool], None]) -> None:
        self._inputs.setdefault(topic, []).append(reader)

    def start(self) -> None:
        self.broker.start()
        self._spawn(self._count_down())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.broker.connected:
            # a clean stop says offline itself; the LWT covers a crash
            with contextlib.suppress(RelayError):
                await self._publish(self.remote.availability, OFFLINE, retain=True)
        await self.broker.release()

    # -- connection -------------------------------------------------------------
    def _connected(self) -> None:
        self._published.clear()  # a new connection: the broker may have lost our retained states
        self._spawn(self._announce())

    async def _announce(self) -> None:
        commands, others = self._commands, self._others
        self.broker.route((*commands, *others), self)
        try:
            deadline = time.monotonic() + PUBLISH_DEADLINE_S
            await self.broker.subscribe(commands, deadline, retain_as_published=True)
            if others:
                await self.broker.subscribe(others, deadline)
            await self._publish(self.remote.availability, ONLINE, retain=True)
            if not self._swept:
                await self._sweep()
                self._swept = True
            await self._discovery()
        except RelayError as err:
            _LOG.warning("MQTT announce failed (%s); retrying on the next connection", err)
            return
        self._changed(list(self.daemon.stove.config.burners))
        self._guard_changed()

    async def _sweep(self) -> None:
        """Empty the retained configs and states of what we no longer serve (a burner
        removed or renamed): Home Assistant removes their entities, instead of keeping
        controls that publish commands nobody answers."""
        patterns = self.remote.leftover_patterns()
        retained = _Retained()
        self.broker.route(patterns, retained)
        try:
            deadline = time.monotonic() + PUBLISH_DEADLINE_S
            await self.broker.subscribe(patterns, deadline)
            await self.broker.barrier(deadline)  # every retained message of theirs is in
        finally:
            self.broker.unsubscribe(patterns)
        leftovers = self.remote.leftovers(retained.topics, self.flames, hazards=self._hazards)
        if leftovers:
            _LOG.info("removing %d retained message(s) of burners or entities no longer "
                      "served: %s", len(leftovers), ", ".join(leftovers))
        for topic in leftovers:
            await self._publish(topic, "", retain=True)

    async def _discovery(self) -> None:
        for topic, config in self.remote.discovery(self.flames, hazards=self._hazards):
            await self._publish(topic, json.dumps(config), retain=True)

    # -- messages ---------------------------------------------------------------
    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic in self._inputs:
            for reader in self._inputs[topic]:
                reader(payload, retained)
        elif topic == self.remote.say:
            if payload or not retained:  # an empty retained one is a deletion (ours)
                self._spawn(self._say(payload, retained))
        elif topic == self.remote.ha_status:
            if payload.strip() == b"online":  # Home Assistant (re)started: it forgot us
                self._spawn(self._rediscover())
        elif retained:
            if payload:  # an empty one is a deletion (ours, below)
                self._spawn(self._retained_command(topic))
        else:
            self._spawn(self._command(topic, payload))

    async def _retained_command(self, topic: str) -> None:
        error = (f"ignored a retained command on {topic}: commands must not be retained "
                 "(it would act again on every reconnect); removed from the broker")
        _LOG.warning("%s", error)
        try:
            await self._publish(topic, "", retain=True)
            await self._publish(self.remote.result, json.dumps(
                result_payload(None, {"ok": False, "exit": 2, "error": error})))
        except RelayError as err:
            _LOG.warning("MQTT: %s", err)

    async def _say(self, payload: bytes, retained: bool) -> None:
        """An utterance: understood and acted on as `stove say` would, answered on
        ``say/result`` with what was understood, what happened and what to say back."""
        topic, request, heard = self.remote.say, None, None
        answer: dict[str, Any]
        try:
            if retained:
                await self._publish(topic, "", retain=True)
                raise UsageError(f"ignored a retained utterance on {topic}: it would be acted "
                                 "on again on every reconnect; removed from the broker")
            request = parse_say(payload, topic)
            if not self._answered.first_time(request.id):
                raise UsageError(f"utterance id {request.id!r} was answered already: a "
                                 "replayed utterance is not acted on again")
            async with self._hearing:  # one at a time: a flood queues, timers keep the CPU
                heard = await asyncio.to_thread(
                    parse_utterance, request.text, lang=request.lang, burners=self._words)
            answer = await self._act_on(heard, request)
        except GasstoveError as err:
            # nothing was understood or done: nothing to say back
            _LOG.warning("MQTT utterance on %s refused: %s", topic, err)
            answer = {"ok": False, "exit": err.exit_code, "error": str(err),
                      "reply": None}
        said = {"id": (request.id or None) if request else None,
                "text": request.text if request else None,
                "lang": request.reply_lang if request else None,  # the reply's: pick a voice
                "understood": heard.as_json() if heard else None, **answer}
        try:
            await self._publish(self.remote.say_result, json.dumps(said, ensure_ascii=False))
        except RelayError as err:
            _LOG.warning("MQTT say result not published: %s", err)

    async def _act_on(self, heard: VoiceCommand, request: SayRequest) -> dict[str, Any]:
        lang, name = request.reply_lang, self.daemon.stove.config.display_name
        if heard.intent is None:
            _LOG.info("MQTT utterance not understood (nothing done): %r", request.text)
            return {"ok": False, "exit": 2, "error": "not understood: nothing was done",
                    "reply": reply_text(heard, None, lang, name)}
        command = command_for(heard, source="voice", requested_by="mqtt", ident=request.id)
        _LOG.info("MQTT utterance %r: %s %s", request.text, command.action,
                  ", ".join(command.burners) or "all burners")
        try:
            results = await self.daemon.handle(command)
        except GasstoveError as err:
            return {"ok": False, "exit": err.exit_code, "error": str(err),
                    "reply": reply_text(heard, None, lang, name, error=str(err))}
        ok = all(r["ok"] for r in results)
        return {"ok": ok, "exit": 0 if ok else 1, "burners": results,
                "reply": reply_text(heard, results, lang, name)}

    def _flame(self, name: str, payload: bytes, _retained: bool) -> None:
        try:
            lit = self.flames[name].parse(payload)
        except ParseError as err:
            _LOG.warning("%s: ignored a flame message (%d bytes): %s", name, len(payload), err)
            return
        if lit is not None:
            self.daemon.flame(name, lit)

    async def _rediscover(self) -> None:
        try:
            await self._discovery()
        except RelayError as err:
            _LOG.warning("MQTT discovery not republished: %s", err)
        self._changed(list(self.daemon.stove.config.burners))

    async def _command(self, topic: str, payload: bytes) -> None:
        command = None
        try:
            command = self.remote.parse(topic, payload)
            _LOG.info("MQTT command on %s: %s %s", topic, command.action,
                      ", ".join(command.burners) or "all burners")
            results = await self.daemon.handle(command)
            ok = all(r["ok"] for r in results)
            reply: dict[str, Any] = {"ok": ok, "exit": 0 if ok else 1, "burners": results}
        except GasstoveError as err:
            _LOG.warning("MQTT command on %s refused: %s", topic, err)
            reply = {"ok": False, "exit": err.exit_code, "error": str(err)}
        request = None
        if command is not None:
            request = {"action": command.action, "burners": list(command.burners),
                       "delay_s": command.delay_s, "id": command.id or None}
        try:
            await self._publish(self.remote.result, json.dumps(
                result_payload(request, reply), ensure_ascii=False))
        except RelayError as err:
            _LOG.warning("MQTT result not published: %s", err)

    def _alert(self, alert: dict[str, Any]) -> None:
        self._spawn(self._publish_alert(alert))

    async def _publish_alert(self, alert: dict[str, Any]) -> None:
        try:
            await self._publish(self.remote.alert, json.dumps(alert, ensure_ascii=False))
        except RelayError as err:  # the broker may be what failed; the log and on_failure remain
            _LOG.error("MQTT alert not published: %s", err)

    def _note(self, note: dict[str, Any]) -> None:
        self._spawn(self._publish_best_effort(self.remote.event, note, "event"))

    def _warning(self, warning: dict[str, Any]) -> None:
        # Not awaited by anything: a warning the broker cannot take holds no cut back.
        self._spawn(self._publish_best_effort(self.remote.warning, warning, "warning"))

    def _guard_changed(self) -> None:
        if self.broker.connected:
            self._spawn(self._publish_best_effort(self.remote.guard, self.daemon.guard.state(),
                                                  "guard state", retain=True))

    async def _publish_best_effort(self, topic: str, payload: dict[str, Any], what: str, *,
                                   retain: bool = False) -> None:
        try:
            await self._publish(topic, json.dumps(payload, ensure_ascii=False), retain=retain)
        except RelayError as err:
            _LOG.warning("MQTT %s not published: %s", what, err)

    # -- state ------------------------------------------------------------------
    def _changed(self, names: list[str]) -> None:
        """Coalesce state changes: a thousand timers firing publish once each, not n²;
        a burner whose state is what we last published (every periodic poll) is skipped."""
        self._dirty.update(names)
        if self.broker.connected and (self._flush is None or self._flush.done()):
            self._flush = self._spawn(self._publish_states())

    async def _publish_states(self) -> None:
        while self._dirty and self.broker.connected:
            names, self._dirty = sorted(self._dirty), set()
            for start in range(0, len(names), STATE_WINDOW):
                # (each window's payloads made when it goes: ten thousand at once were ~4 MB)
                batch = [(name, payload) for name in names[start:start + STATE_WINDOW]
                         if self._published.get(name) != (
                             payload := json.dumps(self.daemon.burner_state(name)))]
                errors = [err for err in await asyncio.gather(
                    *(self._publish_state(name, payload) for name, payload in batch),
                    return_exceptions=True) if err is not None]
                for err in errors:
                    if not isinstance(err, RelayError):
                        raise err
                if errors:
                    _LOG.warning("MQTT state of %d burner(s) not published (%s); sent again on "
                                 "reconnect", len(errors), errors[0])
                    return

    async def _count_down(self) -> None:
        """Republish pending timers when their whole minutes left change."""
        clock = self.daemon.clock
        while True:
            now = clock.wall()
            shown = {name: minutes_left(t.due_at, now) for name, t in self.daemon.timers.items()}
            boundaries = [(t.due_at - now) % 60 for t in self.daemon.timers.values()
                          if t.due_at > now]
            await clock.sleep(min([TICK_S, *boundaries]) + 0.05)
            now = clock.wall()
            if changed := [name for name, t in self.daemon.timers.items()
                           if minutes_left(t.due_at, now) != shown.get(name)]:
                self._changed(changed)

    async def _publish_state(self, name: str, payload: str) -> None:
        self._published.pop(name, None)
        await self._publish(self.remote.state(name), payload, retain=True)
        # Burners in the same state share one copy (a burner's state does not name it):
        # ten thousand copies were 2.4 MB, made as the first poll went (issue 17).
        self._published[name] = sys.intern(payload)

    async def _publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        await self.broker.publish(topic, payload, time.monotonic() + PUBLISH_DEADLINE_S,
                                  retain=retain)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class _Retained:
    """Collects the topics of retained messages (not empty ones: those are deletions)."""

    def __init__(self) -> None:
        self.topics: set[str] = set()

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained and payload:
            self.topics.add(topic)
