"""An MQTT relay: the confirmation rules, over any MQTT connection (no paho here).

The logic of talking to a relay's firmware lives here once, written against
:class:`MqttLink`: the library's paho client (:class:`gasstove.adapters.mqtt.MqttBroker`)
implements it, and so does the Home Assistant integration over Home
Assistant's own ``mqtt`` connection. This module imports no MQTT client, so
Home Assistant (which pins its own paho) can import it.

Rules from DESIGN.md §2/§4: commands are QoS 1 and never retained (a retained
"off" replays on every reconnect); a switch is confirmed only by a state
message the device published after the command (never by our own publish,
never by a retained copy, and with Zigbee2MQTT never by its optimistic echo);
a relay whose availability topic says offline fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from ..domain.dialects import CannotHold, Dialect, ParseError, Report
from ..domain.errors import RelayOffline, RelayRefused, RelayUnreachable, Unconfirmed
from ..domain.mqtt_config import MqttRelayConfig

_LOG = logging.getLogger(__name__)

#: Without a state report this long after a command or a poll, ask again; every
#: unanswered request doubles the pause (with jitter) up to REPOLL_MAX_S, so a
#: thousand relays waiting on one busy connection do not flood it with requests.
REPOLL_S = 0.5
REPOLL_MAX_S = 4.0
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
        """Publish with QoS 1; return once the broker acknowledged it."""
        ...


class MqttRelay:
    """One relay on a (shared) :class:`MqttLink`, speaking its firmware's dialect."""

    def __init__(self, config: MqttRelayConfig, link: MqttLink) -> None:
        self.config = config
        self.dialect: Dialect = config.dialect_impl()
        self._topics = self.dialect.subscriptions()  # asked before every action: computed once
        self._link = link
        link.attach()
        self._energised: bool | None = None
        self._online: bool | None = None
        self._refused: str | None = None
        self._reports = 0  #: state reports received
        self._fresh = 0  #: the number of the last live (not retained) state report
        self._command = 0  #: reports received before our last command
        self._changed = Signal()
        self._polls: set[asyncio.Task[None]] = set()  #: state requests on their way
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
        after = self._reports
        if not await self._until(lambda: self._reports != after, deadline, ask=True):
            raise self._silent("no state report")
        assert self._energised is not None
        return self._energised

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        await self._ready(deadline)
        self._check_online()
        try:
            messages = self.dialect.switch(energised, pulse_seconds)
        except CannotHold as err:
            raise RelayRefused(str(err)) from None
        self._refused = None
        self._command = self._reports  # only reports after this can confirm
        for message in messages:
            await self._link.publish(message.topic, message.payload, deadline)

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        await self._ready(deadline)
        baseline = self._command
        if self.dialect.optimistic_echo:
            # The bridge's echo of our /set is its guess; let it pass, then ask.
            while self._reports == baseline and await self._changed.wait(
                min(deadline, time.monotonic() + ECHO_WINDOW_S)
            ):
                pass
            baseline = self._reports

        def confirmed() -> bool:
            if self._refused is not None:
                raise RelayRefused(f"{self.describe()} refused the command: {self._refused}")
            return self._fresh > baseline and self._energised == energised

        if await self._until(confirmed, deadline, ask=self.dialect.optimistic_echo):
            return
        if self._fresh > baseline:
            state = "energised" if self._energised else "released"
            raise Unconfirmed(f"{self.describe()} still reports the relay {state}")
        raise self._silent("no state report since the command")

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
        self._polls.add(poll)
        poll.add_done_callback(self._asked)
        return poll

    def _asked(self, poll: asyncio.Task[None]) -> None:
        self._polls.discard(poll)
        if not poll.cancelled():
            poll.exception()  # retrieved here; raised by the waiter that still wants it
        self._changed.notify()

    async def _poll(self, deadline: float) -> None:
        # A connection lost while we wait: wait for the next one (within the
        # deadline) and subscribe again on it, rather than give up at once.
        await self._ready(deadline)
        for message in self.dialect.poll():
            await self._link.publish(message.topic, message.payload, deadline)

    def _check_online(self) -> None:
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
        seen = (self._online, self._energised)
        if report.online is not None:
            self._online = report.online
        if report.refused is not None:
            self._refused = report.refused
        if report.energised is not None:
            self._energised = report.energised
            self._reports += 1
            if not retained:
                self._fresh = self._reports
        self._changed.notify()
        if (self._online, self._energised) != seen:
            for listener in self.listeners:
                listener()
