"""MQTT relays over paho-mqtt: one client per broker, shared by every relay on it.

paho runs its own network thread; every callback is handed to the asyncio loop
with ``call_soon_threadsafe``, so relay state is only touched on the loop.

Rules from DESIGN.md §2/§4: commands are QoS 1 and never retained (a retained
"off" replays on every reconnect); a switch is confirmed only by a state
message the device published after the command (never by our own publish,
never by a retained copy, and with Zigbee2MQTT never by its optimistic echo);
a relay whose availability topic says offline fails at once; a broker that
cannot be reached fails within the caller's deadline. The password is handed
to paho and never appears in a message or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from ..domain.dialects import CannotHold, Dialect, ParseError, Report
from ..domain.errors import RelayOffline, RelayRefused, RelayUnreachable, Unconfirmed
from ..domain.mqtt_config import MqttBrokerConfig, MqttRelayConfig

_LOG = logging.getLogger(__name__)

#: Without a state report this long after a command or a poll, ask again.
REPOLL_S = 0.5
#: How long a Zigbee2MQTT-style bridge gets to echo our /set before we ask with /get.
ECHO_WINDOW_S = 0.3
#: paho's reconnect back-off, doubling from the first to the second.
RECONNECT_S = (1, 30)


class _Signal:
    """Wakes every waiter on the loop that created its future (no loop bound at construction)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait(self, until: float) -> bool:
        """True if notified before the monotonic instant ``until``."""
        timeout = until - time.monotonic()
        if timeout <= 0:
            return False
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
        return True


class Receiver(Protocol):
    """Anything that takes the messages of topics routed to it (relays, the daemon's remote)."""

    def receive(self, topic: str, payload: bytes, retained: bool) -> None: ...


class MqttBroker:
    """The one paho client for a broker; relays attach to it and it closes with the last.

    ``will``: a (topic, payload) the broker publishes, retained, when we vanish
    (the daemon's availability); ``on_connect`` callbacks run on the loop after
    every (re)connection, to subscribe and republish.
    """

    def __init__(self, config: MqttBrokerConfig, *, will: tuple[str, str] | None = None) -> None:
        self.config = config
        self.will = will
        self.on_connect: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: paho.Client | None = None
        self._relays: dict[str, list[Receiver]] = {}
        self._users = 0
        self.connected = False
        #: Counts connections: a relay re-subscribes when it changes (clean sessions).
        self.generation = 0
        self._refused: str | None = None
        self._changed = _Signal()
        self._acks: dict[int, asyncio.Future[list[ReasonCode] | None]] = {}
        self._barrier_topic = ""

    def describe(self) -> str:
        return f"MQTT broker {self.config.describe()}"

    # -- relays -----------------------------------------------------------------
    def attach(self) -> None:
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users > 0 or self._client is None:
            return
        client, self._client = self._client, None
        was_connected, self.connected = self.connected, False
        client.disconnect()
        if was_connected:
            await asyncio.to_thread(client.loop_stop)  # let paho's thread send the DISCONNECT
        else:
            # Nothing to flush, and paho's thread may sleep up to a second in its
            # back-off: a failed `stove off` must not outlive its deadline for that.
            threading.Thread(target=client.loop_stop, daemon=True).start()

    def route(self, topics: tuple[str, ...], relay: Receiver) -> None:
        for topic in topics:
            if relay not in (owners := self._relays.setdefault(topic, [])):
                owners.append(relay)

    # -- connection -----------------------------------------------------------
    def start(self) -> None:
        """Start connecting (and reconnecting) in the background, on the running loop."""
        self._loop = asyncio.get_running_loop()
        if self._client is None:
            self._start()

    async def connected_by(self, deadline: float) -> None:
        """Return once connected; RelayUnreachable/RelayRefused at ``deadline``."""
        self.start()
        while not self.connected:
            if self._refused is not None:
                raise RelayRefused(f"{self.describe()} refused the connection: {self._refused}")
            if not await self._changed.wait(deadline):
                raise RelayUnreachable(f"{self.describe()} not reachable within the deadline")

    def _start(self) -> None:
        cfg = self.config
        client_id = f"{cfg.client_id_prefix}-{secrets.token_hex(4)}"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=paho.MQTTv311, clean_session=True)
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password else None
            client.username_pw_set(cfg.username, password)
        if cfg.use_tls:
            client.tls_set(ca_certs=cfg.ca_file)
        client.reconnect_delay_set(*RECONNECT_S)
        if self.will is not None:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        self._barrier_topic = f"gasstove/barrier/{client_id}"
        self._client = client
        client.connect_async(cfg.host, cfg.effective_port, keepalive=cfg.keepalive)
        client.loop_start()  # connects, and reconnects with back-off, in paho's thread

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` on the asyncio loop (called from paho's thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed since the check
            loop.call_soon_threadsafe(callback, *args)

    # paho thread ---------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if not rc.is_failure:
            # Every connection is a clean session; the barrier topic orders
            # retained messages before the answer to a barrier (see barrier()).
            client.subscribe(self._barrier_topic, qos=1)
        self._post(self._connection, not rc.is_failure, None if not rc.is_failure else str(rc))

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        self._post(self._connection, False, None)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._post(self._connection, False, None)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._post(self._dispatch, msg.topic, msg.payload, bool(msg.retain))

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, codes: list[ReasonCode],
                      _p: Any) -> None:
        self._post(self._ack, mid, codes)

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, _rc: ReasonCode, _p: Any) -> None:
        self._post(self._ack, mid, None)

    # loop ----------------------------------------------------------------------
    def _connection(self, up: bool, refused: str | None) -> None:
        if up and not self.connected:
            self.generation += 1
            _LOG.info("connected to %s", self.describe())
            for callback in self.on_connect:
                callback()
        elif not up and self.connected:
            _LOG.warning("lost %s; reconnecting", self.describe())
        self.connected = up
        if up or refused is not None:  # the disconnect that follows a refusal keeps its reason
            self._refused = refused
        if not up:
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(RelayUnreachable(f"lost {self.describe()}"))
            self._acks.clear()
        self._changed.notify()

    def _dispatch(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self._barrier_topic:
            self._ack(-int.from_bytes(payload[:4], "big") - 1, None)
            return
        for relay in self._relays.get(topic, ()):
            relay.receive(topic, payload, retained)

    def _ack(self, mid: int, codes: list[ReasonCode] | None) -> None:
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(codes)

    # requests ------------------------------------------------------------------
    async def _acked(self, mid: int, deadline: float, what: str) -> list[ReasonCode] | None:
        fut = self._acks[mid] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            self._acks.pop(mid, None)
            raise RelayUnreachable(f"{self.describe()} did not acknowledge {what} "
                                   "within the deadline") from None

    def _client_or_raise(self) -> paho.Client:
        if self._client is None or not self.connected:
            raise RelayUnreachable(f"not connected to {self.describe()}")
        return self._client

    async def subscribe(self, topics: tuple[str, ...], deadline: float) -> None:
        rc, mid = self._client_or_raise().subscribe([(t, 1) for t in topics])
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise RelayUnreachable(f"cannot subscribe on {self.describe()}: {paho.error_string(rc)}")
        codes = await self._acked(mid, deadline, "our subscription") or []
        if any(code.is_failure for code in codes):
            raise RelayRefused(f"{self.describe()} refused a subscription to {', '.join(topics)}")

    async def barrier(self, deadline: float) -> None:
        """Return once every message the broker queued for us before now has been handled.

        The broker sends a new subscription's retained messages (a relay's LWT,
        an ESPHome state) before anything published after it, so when our own
        barrier message comes back they have been dispatched.
        """
        token = secrets.randbits(31)
        info = self._client_or_raise().publish(self._barrier_topic, token.to_bytes(4, "big"), qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise RelayUnreachable(f"cannot publish on {self.describe()}")
        await self._acked(-token - 1, deadline, "a barrier message")

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        """Publish (QoS 1) and wait for the broker's PUBACK.

        Commands are never retained; only the daemon's own state, availability
        and discovery messages are (``retain=True``).
        """
        info = self._client_or_raise().publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise RelayUnreachable(f"cannot publish to {topic} on {self.describe()}: "
                                   f"{paho.error_string(info.rc)}")
        await self._acked(info.mid, deadline, f"the command to {topic}")


class MqttRelay:
    """One relay on a shared :class:`MqttBroker`, speaking its firmware's dialect."""

    def __init__(self, config: MqttRelayConfig, broker: MqttBroker) -> None:
        self.config = config
        self.dialect: Dialect = config.dialect_impl()
        self._broker = broker
        broker.attach()
        self._generation = 0  #: the broker connection our subscriptions were made on
        self._energised: bool | None = None
        self._online: bool | None = None
        self._refused: str | None = None
        self._reports = 0  #: state reports received
        self._fresh = 0  #: the number of the last live (not retained) state report
        self._command = 0  #: reports received before our last command
        self._changed = _Signal()

    def describe(self) -> str:
        return self.config.describe()

    # -- Relay protocol ---------------------------------------------------------
    async def identify(self, *, deadline: float) -> str:
        await self._ready(deadline)
        online = {True: "online", False: "OFFLINE", None: "availability unknown"}[self._online]
        return f"{self.dialect.name} relay on {self._broker.config.describe()}, {online}"

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
        await self._poll(deadline)
        while self._reports == after:
            self._check_online()
            if not await self._changed.wait(min(deadline, time.monotonic() + REPOLL_S)):
                if time.monotonic() >= deadline:
                    raise self._silent(deadline, "no state report")
                await self._poll(deadline)
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
            await self._broker.publish(message.topic, message.payload, deadline)

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
            await self._poll(deadline)
        while True:
            self._check_online()
            if self._refused is not None:
                raise RelayRefused(f"{self.describe()} refused the command: {self._refused}")
            if self._fresh > baseline and self._energised == energised:
                return
            if not await self._changed.wait(min(deadline, time.monotonic() + REPOLL_S)):
                if time.monotonic() >= deadline:
                    break
                await self._poll(deadline)
        if self._fresh > baseline:
            state = "energised" if self._energised else "released"
            raise Unconfirmed(f"{self.describe()} still reports the relay {state}")
        raise self._silent(deadline, "no state report since the command")

    async def close(self) -> None:
        await self._broker.release()

    # -- internals ----------------------------------------------------------------
    async def _ready(self, deadline: float) -> None:
        """Connected, subscribed on this connection, and retained messages seen."""
        broker = self._broker
        await broker.connected_by(deadline)
        if self._generation != broker.generation:
            topics = self.dialect.subscriptions()
            broker.route(topics, self)
            await broker.subscribe(topics, deadline)
            await broker.barrier(deadline)
            self._generation = broker.generation

    async def _poll(self, deadline: float) -> None:
        for message in self.dialect.poll():
            await self._broker.publish(message.topic, message.payload, deadline)

    def _check_online(self) -> None:
        if self._online is False:
            raise RelayOffline(f"{self.describe()} reports itself offline (its availability "
                               "topic / LWT): is it powered and on the network?")

    def _silent(self, deadline: float, what: str) -> Unconfirmed | RelayUnreachable:
        if not self._broker.connected:
            return RelayUnreachable(f"lost {self._broker.describe()} before {self.describe()} "
                                    "answered")
        return Unconfirmed(f"{what} from {self.describe()} within the deadline")

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        """One message on one of our topics (on the loop, from the broker's dispatch)."""
        try:
            report: Report | None = self.dialect.parse(topic, payload)
        except ParseError as err:
            # Hostile or broken publishers must not crash us; the payload itself is not logged.
            _LOG.warning("%s: ignored a message on %s (%d bytes): %s",
                         self.describe(), topic, len(payload), err)
            return
        if report is None:
            return
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
