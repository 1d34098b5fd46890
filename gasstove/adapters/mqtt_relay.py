"""An MQTT relay: the confirmation rules, over any MQTT connection (no paho here).

The logic of talking to a relay's firmware lives here once, written against
:class:`MqttLink`: the library's paho client (:class:`gasstove.adapters.mqtt.MqttBroker`)
implements it, and so does the Home Assistant integration over Home
Assistant's own ``mqtt`` connection. This module imports no MQTT client, so
Home Assistant (which pins its own paho) can import it.

Rules from docs/design.md §2/§4: commands are QoS 1 and never retained (a retained
"off" replays on every reconnect); a switch is confirmed only by a state
message the device published after the command (never by our own publish,
never by a retained copy, never by a periodic snapshot, and with Zigbee2MQTT
never by its optimistic echo), and only while the latest word of any kind
agrees; a relay (or the bridge it sits behind) whose availability topic says
offline fails at once.

What MQTT cannot tell: who published a message. A client allowed to publish
on a relay's state topic can forge a live report; the broker's ACLs must keep
others off those topics (README, "Relays"). A broker hands a retained message
to a subscription already made with the retain flag cleared (MQTT 3.1.1
§3.3.1.3), so the flag only marks what a new subscription replays.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from ..domain.dialects import CannotHold, Dialect, Message, ParseError, Report
from ..domain.errors import (
    RelayError,
    RelayOffline,
    RelayRefused,
    RelayUnreachable,
    Unconfirmed,
)
from ..domain.mqtt_config import MqttRelayConfig
from ..domain.power_on import PowerOn

_LOG = logging.getLogger(__name__)

#: Without a state report this long after a command or a poll, ask again; every
#: unanswered request doubles the pause (with jitter) up to REPOLL_MAX_S, so a
#: thousand relays waiting on one busy connection do not flood it with requests.
REPOLL_S = 0.5
REPOLL_MAX_S = 4.0
#: How long past a device-timed pulse's end a restore waits for the device's own
#: report of that end (which makes the restore command needless) before sending it.
PULSE_END_S = 1.0
#: How long a Zigbee2MQTT-style bridge gets to echo our /set before we ask with /get.
ECHO_WINDOW_S = 0.3


class Signal:
    """Wakes every waiter on the loop that created its future (no loop bound at construction)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[bool]] = []

    async def wait(self, until: float) -> bool:
        """True if notified before the monotonic instant ``until``."""
        timeout = until - time.monotonic()
        if timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(fut)
        # A timer, not asyncio.wait_for: that costs a task per wait (Python 3.11),
        # ten thousand of them when ten thousand relays wait at once.
        timer = loop.call_later(timeout, _expire, fut)
        try:
            return await fut
        finally:
            timer.cancel()
            if fut in self._waiters:
                self._waiters.remove(fut)

    def notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(True)
        self._waiters.clear()


def _expire(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


class NotSent(RelayUnreachable):
    """A publish refused before anything was handed to the connection (nothing can arrive)."""


class Receiver(Protocol):
    """Anything that takes the messages of topics routed to it (relays, the daemon's remote)."""

    def receive(self, topic: str, payload: bytes, retained: bool) -> None: ...


class MqttLink(Protocol):
    """What a relay needs of an MQTT connection; messages reach it on the event loop.

    Deadlines are absolute ``time.monotonic()`` instants; a call that cannot
    finish by then raises a :class:`~gasstove.domain.errors.RelayError`.
    """

    @property
    def connected(self) -> bool:
        """Whether the connection is up now (to tell "broker lost" from "device silent")."""
        ...

    def describe(self) -> str:
        """The connection, for messages (never a secret)."""
        ...

    def attach(self) -> None:
        """One more relay uses the link; it stays up until every one has released it."""
        ...

    async def release(self) -> None: ...

    async def ready(self, topics: tuple[str, ...], receiver: Receiver, deadline: float) -> None:
        """Return once connected, subscribed to ``topics`` on the current connection, and
        every retained message of theirs has been handed to ``receiver.receive``."""
        ...

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        """Publish with QoS 1; return once the broker acknowledged it.

        Raise :class:`NotSent` only when nothing left (or will leave) for the
        broker; any other error means the message may still arrive.
        """
        ...


class MqttRelay:
    """One relay on a (shared) :class:`MqttLink`, speaking its firmware's dialect."""

    def __init__(self, config: MqttRelayConfig, link: MqttLink, *,
                 off_pulses: bool = True) -> None:
        """``off_pulses``: the burner's wiring makes a cut an OFF pulse (normally_open);
        with False the dialect may skip what only guards against one (Tasmota's clear)."""
        self.config = config
        self.dialect: Dialect = config.dialect_impl()
        if not off_pulses:
            self.dialect = self.dialect.without_off_pulses()
        self._topics = self.dialect.subscriptions()  # asked before every action: computed once
        self._link = link
        link.attach()
        self._energised: bool | None = None
        self._online: bool | None = None
        self._bridge_online: bool | None = None
        self._refused: str | None = None
        #: State reports the device sent us live (not retained), and the last one's state.
        self._heard = 0
        self._heard_energised: bool | None = None
        #: Live state reports (not retained, not periodic) received, and the last one's state.
        self._live = 0
        self._fresh_energised: bool | None = None
        self._command = 0  #: live reports received before our last command
        #: The state our last command asked the device to hold for a pulse it times
        #: itself, and whether a live report of it came since: the pulse may be over
        #: (as asked) by the time a busy loop looks.
        self._pulse: bool | None = None
        self._pulse_seen = False
        #: Once a live report after the one of the pulse said the relay left that state,
        #: the count of live reports before it: the device's own word that its pulse ended.
        self._pulse_ended: int | None = None
        #: The pulse's length, and when we confirmed its start (monotonic; 0: not yet).
        self._pulse_length = 0.0
        self._pulse_confirmed_at = 0.0
        #: Replies to requests numbered up to this were asked before our last command.
        self._asked_before = 0
        #: The state a Zigbee2MQTT-style bridge will echo for our last /set, until it has.
        self._echo: bool | None = None
        #: The state our last command asked for, once it may have left (for error messages).
        self._sent: bool | None = None
        #: Live reports of the power-on setting received, and the last one's value.
        self._power_on_heard = 0
        self._power_on: PowerOn | None = None
        #: The same for the firmware's loop sleep (Tasmota ``Sleep``).
        self._sleep_heard = 0
        self._loop_sleep: int | None = None
        self._changed = Signal()
        #: State requests on their way (one or two: a list is a quarter of a set's size).
        self._polls: list[asyncio.Task[None]] = []
        #: Called when the device's own messages change its availability or state
        #: (its LWT, a live report): the daemon passes them on at once, not at its next poll.
        self.listeners: list[Callable[[], None]] = []

    @property
    def online(self) -> bool | None:
        """What the availability topic last said (None: nothing heard)."""
        return self._online

    @property
    def energised(self) -> bool | None:
        """The relay as the device last reported it (None: no report yet)."""
        return self._energised

    def describe(self) -> str:
        return self.config.describe()

    # -- Relay protocol ---------------------------------------------------------
    async def identify(self, *, deadline: float) -> str:
        await self._ready(deadline)
        online = {True: "online", False: "OFFLINE", None: "availability unknown"}[self._online]
        if self._bridge_online is False:
            online += f", its bridge OFFLINE ({self.dialect.bridge()})"
        return f"{self.dialect.name} relay on {self._link.describe()}, {online}"

    async def read(self, *, deadline: float) -> bool:
        await self._ready(deadline)
        self._check_online()
        if not self.dialect.poll():
            # Retained messages were handled by _ready(); this firmware has no
            # state request, so waiting longer would only delay a cut.
            if self._energised is None:
                raise Unconfirmed(f"{self.describe()} has not reported its state yet (it has "
                                  "no state request and publishes on changes only)")
            return self._energised  # its last own report (a retained state serves for this)
        # The device's own answer: a retained copy replayed meanwhile is anyone's.
        after = self._heard
        if not await self._until(lambda: self._heard != after, deadline, ask=True):
            raise self._silent("no state report")
        assert self._heard_energised is not None
        return self._heard_energised

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        self._sent = None
        try:
            await self._ready(deadline)
            self._check_online()
            self._asked_before = self.dialect.requests()  # the command's own reply counts
            messages = self.dialect.switch(energised, pulse_seconds)
            if await self._pulse_over(energised, deadline):
                return
        except CannotHold as err:
            raise RelayRefused(f"{err}; nothing was sent") from None
        except RelayError as err:
            raise _amend(err, "nothing was sent to the relay") from None
        self._refused = None
        self._command = self._live  # only reports after this can confirm
        self._pulse, self._pulse_seen = (None if pulse_seconds is None else energised), False
        self._pulse_ended = None
        self._pulse_length, self._pulse_confirmed_at = pulse_seconds or 0.0, 0.0
        self._echo = energised if self.dialect.optimistic_echo else None
        # The last message is the one that switches (Tasmota sends a Backlog clear first).
        for i, message in enumerate(messages):
            last = i == len(messages) - 1
            try:
                await self._link.publish(message.topic, message.payload, deadline)
            except NotSent as err:
                raise _amend(err, "nothing was sent to the relay" if i == 0 else
                             "the command itself was not sent") from None
            except RelayError as err:
                if not last:
                    raise _amend(err, "the command itself was not sent") from None
                self._sent = energised  # it may still arrive
                raise _amend(err, self._may_have(energised), may_be_energised=energised) from None
        self._sent = energised

    async def _pulse_over(self, energised: bool, deadline: float) -> bool:
        """Whether the device itself ended the pulse of our last command and reported it:
        a live report (not retained, not a periodic snapshot) received after the live
        report of the pulse, saying the relay left the pulse's state, and every word
        since agreeing. Then asking for that state again is needless (issue 17: a third
        of a shut-off's messages at scale), and ``wait_for`` confirms it by that report,
        as it would confirm the answer to the command. Waits up to PULSE_END_S past
        the pulse's due end (its confirmed start plus its length) for that report; a
        restore asked for long before it (an unlock mid-pulse) does not wait, and one
        asked for later than twice PULSE_END_S after it (an unlock later on), or of a
        pulse this process never confirmed, does not take it. Never with a bridge that
        echoes optimistically (Zigbee2MQTT): its report may be its guess."""
        if (self._pulse is None or energised is self._pulse or self.dialect.optimistic_echo
                or not self._pulse_confirmed_at):
            return False
        # Due from the report of its start, not from our command: at scale a command
        # waits its turn to leave, and the device times the pulse from its arrival.
        due = self._pulse_confirmed_at + self._pulse_length
        if time.monotonic() < due - PULSE_END_S:
            return False
        if not await self._until(lambda: self._pulse_ended is not None,
                                 min(deadline, due + PULSE_END_S), ask=False):
            return False
        if not (self._fresh_energised is energised and self._energised is energised):
            return False  # the relay has said otherwise since: ask for it
        if time.monotonic() > due + 2 * PULSE_END_S:
            return False  # not the restore that ends it (an unlock later on): ask afresh
        assert self._pulse_ended is not None
        self._refused = None
        self._command = self._pulse_ended  # the end report answers, as a reply would
        self._pulse, self._pulse_ended, self._echo = None, None, None
        self._sent = energised
        return True

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        # (one frame, not a wrapper around another: ten thousand relays wait at once)
        try:
            await self._ready(deadline)
            baseline = self._command
            if self.dialect.optimistic_echo:
                # Ask once the bridge's echo has passed (or after ECHO_WINDOW_S), so
                # that the answer comes after it; receive() drops the echo itself.
                until = min(deadline, time.monotonic() + ECHO_WINDOW_S)
                while self._echo is not None and await self._changed.wait(until):
                    pass

            def confirmed() -> bool:
                if self._refused is not None:
                    raise RelayRefused(f"{self.describe()} refused the command: {self._refused}")
                # The device's own live word since the command, and nothing since against it
                # (but the end of the device's own pulse, which the command asked for).
                return self._live > baseline and (
                    (self._fresh_energised == energised and self._energised == energised)
                    or (self._pulse_seen and self._pulse is energised))

            if await self._until(confirmed, deadline, ask=self.dialect.optimistic_echo):
                if energised is self._pulse:
                    self._pulse_confirmed_at = time.monotonic()
                return
            if self._live > baseline:
                state = _state(bool(self._energised))
                raise Unconfirmed(f"{self.describe()} still reports the relay {state}")
            if self._energised == energised and not self.dialect.confirms_unchanged():
                # That earlier state may be old, retained, or anyone's: never pretend.
                raise Unconfirmed(
                    f"no report from {self.describe()} since the command; the last state seen on "
                    f"its topic (perhaps old or retained) said {_state(energised)}, but "
                    f"{self._no_state_request()}, so this cannot be confirmed")
            raise self._silent("no state report since the command")
        except RelayError as err:
            if self._sent is None:
                raise
            raise _amend(err, self._may_have(self._sent), may_be_energised=self._sent) from None

    async def power_on(self, *, deadline: float) -> PowerOn | None:
        """What the relay does when its power comes back, as it answers now (None: this
        firmware cannot be asked over MQTT). Only reads: the query switches nothing."""
        if not await self._query(self.dialect.power_on_query(), lambda: self._power_on_heard,
                               "its power-on setting", deadline):
            return None
        assert self._power_on is not None
        return self._power_on

    async def loop_sleep(self, *, deadline: float) -> int | None:
        """How long the firmware's main loop sleeps between passes, in ms, as it answers
        now (None: no such setting). Only reads: the query switches nothing."""
        if not await self._query(self.dialect.loop_sleep_query(), lambda: self._sleep_heard,
                               "its loop sleep", deadline):
            return None
        assert self._loop_sleep is not None
        return self._loop_sleep

    async def _query(self, query: list[Message], heard: Callable[[], int], what: str,
                   deadline: float) -> bool:
        """Send a read-only query and wait for a live answer to it (False: no query)."""
        if not query:
            return False
        await self._ready(deadline)
        self._check_online()
        after = heard()  # a retained or earlier answer is not this one
        for message in query:
            await self._link.publish(message.topic, message.payload, deadline)
        while heard() == after:
            self._check_online()
            if not await self._changed.wait(deadline):
                raise self._silent(f"no answer about {what}")
        return True

    def caveat(self) -> str | None:
        """What this relay cannot confirm, for `stove check` (None: nothing)."""
        if self.dialect.confirms_unchanged():
            return None
        return (f"{self._no_state_request()}: a cut or lock of a relay already cutting (a hold) "
                "cannot be confirmed"
                + (" (set get_topic if the firmware answers one)"
                   if self.dialect.name == "generic" else ""))

    async def close(self) -> None:
        for poll in self._polls:
            poll.cancel()
        await self._link.release()

    # -- internals ----------------------------------------------------------------
    async def _ready(self, deadline: float) -> None:
        await self._link.ready(self._topics, self, deadline)

    async def _until(self, done: Callable[[], bool], deadline: float, *, ask: bool) -> bool:
        """Wait until ``done()`` (checked after every message), False at ``deadline``.

        Asks the device for its state at once if ``ask``, and again whenever it
        stays silent: after REPOLL_S, then twice as long each time, with jitter.
        A request still on its way (not yet acknowledged by the broker) is not
        repeated: on a busy connection that would only lengthen the queue it
        waits in. The device's report confirms, whatever became of a request.
        A request lost with the connection is sent again on the next one (within
        the deadline); one refused (a subscription) is raised if no report came.
        """
        poll = self._ask(deadline) if ask else None
        pause = REPOLL_S
        while True:
            self._check_online()
            if done():
                return True
            # A request lost with the connection is simply asked again (it waits for
            # the next connection); a refusal will not change by asking.
            failed = poll.exception() if poll and poll.done() and not poll.cancelled() else None
            if failed is not None and not isinstance(failed, RelayUnreachable):
                raise failed
            wait = pause * (1 + random.random() / 4)  # spreads requests; no secret
            if not await self._changed.wait(min(deadline, time.monotonic() + wait)):
                if time.monotonic() >= deadline:
                    return False
                if poll is None or poll.done():
                    poll = self._ask(deadline)
                    pause = min(REPOLL_MAX_S, pause * 2)

    def _ask(self, deadline: float) -> asyncio.Task[None]:
        """Send a state request in the background; its end (acknowledged or not) wakes waiters."""
        poll = asyncio.get_running_loop().create_task(self._poll(deadline))
        self._polls.append(poll)
        poll.add_done_callback(self._asked)
        return poll

    def _asked(self, poll: asyncio.Task[None]) -> None:
        if poll in self._polls:
            self._polls.remove(poll)
        if not poll.cancelled():
            poll.exception()  # retrieved here; raised by the waiter that still wants it
        self._changed.notify()

    async def _poll(self, deadline: float) -> None:
        # A connection lost while we wait: wait for the next one (within the
        # deadline) and subscribe again on it, rather than give up at once.
        await self._ready(deadline)
        for message in self.dialect.poll():
            await self._link.publish(message.topic, message.payload, deadline)

    def _no_state_request(self) -> str:
        return (f"{self.dialect.name} does not report a state it already has and has no state "
                "request")

    def _may_have(self, energised: bool) -> str:
        return (f"the command may have reached the relay: it may be {_state(energised)} "
                f"now, or still {_state(not energised)}")

    def _check_online(self) -> None:
        if self._bridge_online is False:
            raise RelayOffline(f"the {self.dialect.name} bridge reports itself offline "
                               f"({self.dialect.bridge()}): {self.describe()} cannot be "
                               "reached through it (its own availability stays \"online\")")
        if self._online is False:
            raise RelayOffline(f"{self.describe()} reports itself offline (its availability "
                               "topic / LWT): is it powered and on the network?")

    def _silent(self, what: str) -> Unconfirmed | RelayUnreachable:
        if not self._link.connected:
            return RelayUnreachable(f"lost {self._link.describe()} before {self.describe()} "
                                    "answered")
        return Unconfirmed(f"{what} from {self.describe()} within the deadline")

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        """One message on one of our topics (on the loop, from the link)."""
        try:
            report: Report | None = self.dialect.parse(topic, payload)
        except ParseError as err:
            # Hostile or broken publishers must not crash us; the payload itself is not logged.
            _LOG.warning("%s: ignored a message on %s (%d bytes): %s",
                         self.describe(), topic, len(payload), err)
            return
        if report is None:
            return
        if report.answers is not None and report.answers <= self._asked_before:
            return  # the answer to a request made before our last command: old news
        seen = (self._online, self._energised)
        if report.online is not None:
            self._online = report.online
        if report.bridge_online is not None:
            self._bridge_online = report.bridge_online
        if report.refused is not None:
            self._refused = report.refused
        if report.power_on is not None and not retained:
            self._power_on = report.power_on
            self._power_on_heard += 1
        if report.loop_sleep_ms is not None and not retained:
            self._loop_sleep = report.loop_sleep_ms
            self._sleep_heard += 1
        if report.energised is not None and not retained and report.energised is self._echo:
            # The first live report of the state we asked for is the bridge's echo,
            # its guess, whenever it comes (later than a /get answer, even): dropped.
            # Were it a true report instead, the echo would follow and say the same.
            self._echo = None
        elif report.energised is not None:
            self._energised = report.energised
            if not retained:
                self._heard += 1
                self._heard_energised = report.energised
            if not retained and not report.periodic:
                self._live += 1
                self._fresh_energised = report.energised
                if (self._pulse_seen and self._pulse_ended is None
                        and report.energised is not self._pulse):
                    self._pulse_ended = self._live - 1
                self._pulse_seen = self._pulse_seen or report.energised is self._pulse
        self._changed.notify()
        if (self._online, self._energised) != seen:
            for listener in self.listeners:
                listener()


def _state(energised: bool) -> str:
    return "energised" if energised else "released"


def _amend(err: RelayError, what: str, *, may_be_energised: bool | None = None) -> RelayError:
    """The same kind of error, saying what the command may have done."""
    amended = type(err)(f"{err}; {what}")
    amended.may_be_energised = may_be_energised
    return amended
