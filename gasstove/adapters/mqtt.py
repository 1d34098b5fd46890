"""The MQTT connection of the library: one paho client per broker, shared by every relay on it.

:class:`MqttBroker` is the paho implementation of
:class:`~gasstove.adapters.mqtt_relay.MqttLink`; the relay logic itself lives
in :mod:`gasstove.adapters.mqtt_relay`, which Home Assistant shares. The
daemon's remote control uses the broker directly (``route``/``subscribe``/
``publish(retain=True)``).

paho runs its own network thread; every callback is handed to the asyncio loop
with ``call_soon_threadsafe``, so relay state is only touched on the loop. A
broker that cannot be reached fails within the caller's deadline. The password
is handed to paho and never appears in a message or a log line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ..domain.errors import RelayError, RelayRefused, RelayUnreachable
from ..domain.mqtt_config import MqttBrokerConfig
from .mqtt_relay import NotSent, Receiver, Signal

_LOG = logging.getLogger(__name__)

#: paho's reconnect back-off, doubling from the first to the second.
RECONNECT_S = (1, 30)
#: Topics per SUBSCRIBE packet when many relays subscribe at once.
SUBSCRIBE_CHUNK = 2000
#: QoS 1 messages sent and not yet acknowledged (paho's default is 20): with 20, ten
#: thousand relays' commands crawl out 20 round trips at a time (README "Scaling").
#: More wait in our own queue, not paho's: paho keeps ~3 KB per message it holds (a
#: threading.Condition each), ten thousand cuts' worth was a third of the daemon's
#: high water (issue 17); and one still waiting at its deadline is never sent.
INFLIGHT = 200


class _Outgoing:
    """One message of ours to publish: waiting for a place in the window, then (``mid``)
    handed to paho and waiting for its PUBACK."""

    __slots__ = ("deadline", "done", "mid", "payload", "retain", "topic")

    def __init__(self, topic: str, payload: str, retain: bool, deadline: float,
                 done: asyncio.Future[ReasonCode | None]) -> None:
        self.topic, self.payload, self.retain = topic, payload, retain
        self.deadline, self.done = deadline, done
        self.mid: int | None = None


@dataclass
class _Joining:
    """Relays' topics to subscribe together, and the broker's codes for them."""

    done: asyncio.Future[list[ReasonCode]]
    topics: list[str] = field(default_factory=list)
    deadline: float = 0.0


def _pass_on(done: asyncio.Future[list[ReasonCode]],
             mine: asyncio.Future[list[ReasonCode]]) -> None:
    if mine.done():
        return
    if (err := done.exception()) is not None:
        mine.set_exception(err)
    else:
        mine.set_result(done.result())


def _add_route(routes: dict[str, tuple[Receiver, ...]], topic: str, receiver: Receiver) -> None:
    if receiver not in (owners := routes.get(topic, ())):
        routes[topic] = (*owners, receiver)


def _fail(fut: asyncio.Future[Any], err: BaseException) -> None:
    if not fut.done():
        fut.set_exception(err)


#: Bytes read from the broker's socket at once (see _ReadAhead).
READ_AHEAD = 65536


class _ReadAhead:
    """The broker's socket, read in gulps of up to READ_AHEAD bytes.

    paho reads each packet in three small ``recv`` calls (its type, its length, the
    rest): each is a system call that lets go of the GIL, and while the event loop
    is busy (an ``off`` of thousands of relays, each answering with three reports)
    paho's thread waits up to a switch interval (5 ms) to take it back, every time
    (issue 17). paho asks ``pending()`` before it sleeps in ``select``, as it does of
    a TLS socket, so bytes held here are read without waiting for the socket.
    """

    __slots__ = ("_at", "_held", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._held = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at == len(self._held):
            data = self._sock.recv(READ_AHEAD)  # (b"" at the end: the connection closed)
            if len(data) <= size:
                return data
            self._held, self._at = data, 0
        chunk = self._held[self._at:self._at + size]
        self._at += len(chunk)
        return chunk

    def pending(self) -> int:
        held = len(self._held) - self._at
        # (a TLS socket may hold decrypted bytes of its own)
        return held + (self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0)

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


class Client(paho.Client):
    """paho's client with Nagle's algorithm off and the socket read ahead.

    Nagle: a command often follows another small packet (the PUBACK of the command
    that asked for it, a state request); with Nagle on, it then waits for the
    broker's delayed ACK: +40 ms on Linux, per hop.
    """

    def _create_socket(self) -> Any:
        # (paho's own hook for the socket of each connection, as its websocket wrapper uses)
        sock = super()._create_socket()
        if not isinstance(sock, socket.socket):
            return sock
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _ReadAhead(sock)


def _tls_reason(err: ssl.SSLError) -> str:
    """``TLSV13_ALERT_CERTIFICATE_REQUIRED`` -> ``tlsv13 alert certificate required``."""
    return (err.reason or type(err).__name__).lower().replace("_", " ")


class _TlsAlerts(logging.Logger):
    """paho's log, read for one thing only: a TLS alert from the broker. With TLS 1.3 a
    broker that wants a client certificate says so after the handshake, and paho only
    logs the error (then waits to reconnect): without this a shut-off would wait out
    its deadline and say "not reachable"."""

    def __init__(self, broker: MqttBroker) -> None:
        super().__init__("gasstove.paho", logging.ERROR)
        self._broker = broker

    def log(self, level: int, msg: object, *args: object, **_kwargs: Any) -> None:
        if level >= logging.ERROR:
            for arg in args:
                if isinstance(arg, ssl.SSLError) and "ALERT" in (arg.reason or ""):
                    self._broker.tls_alert(arg)


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
        #: The receiver of each topic, and any others of the same topic (rare): a
        #: container each cost ten thousand relays' five topics ~3-4 MB (issue 17).
        self._relays: dict[str, Receiver] = {}
        self._also: dict[str, tuple[Receiver, ...]] = {}
        #: Routes by wildcard (the daemon's sweep of its old retained messages): few and brief.
        self._patterns: dict[str, tuple[Receiver, ...]] = {}
        #: The connection (``generation``) each relay's subscriptions were made on.
        self._subscribed: dict[Receiver, int] = {}
        self._users = 0
        self.connected = False
        #: Counts connections: a relay re-subscribes when it changes (clean sessions).
        self.generation = 0
        self._refused: str | None = None
        #: Why the last connection attempt failed, where it says more than "no answer".
        self.unreachable_why: str | None = None
        self._changed = Signal()
        self._acks: dict[int, asyncio.Future[list[ReasonCode] | None]] = {}
        #: Our publishes handed to paho and not yet acknowledged (by mid), and those
        #: waiting for a place among them (see INFLIGHT).
        self._window: dict[int, _Outgoing] = {}
        self._waiting: collections.deque[_Outgoing] = collections.deque()
        self._barrier_topic = ""
        #: Relays asking to subscribe in this turn of the loop, and the batches under way.
        self._joining: _Joining | None = None
        self._batches: set[asyncio.Task[None]] = set()
        #: Callbacks from paho's thread for the loop, handed over in batches (see _post).
        self._inbox: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = (
            collections.deque())
        self._inbox_lock = threading.Lock()
        self._inbox_scheduled = False

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
            if "+" in topic or "#" in topic:
                _add_route(self._patterns, topic, relay)
            elif self._relays.setdefault(topic, relay) is not relay:
                _add_route(self._also, topic, relay)

    def unsubscribe(self, topics: tuple[str, ...]) -> None:
        """Stop receiving ``topics``; what we publish after this is not sent back to us
        (the broker handles our packets in order), so no acknowledgement is awaited."""
        for topic in topics:
            self._relays.pop(topic, None)
            self._also.pop(topic, None)
            self._patterns.pop(topic, None)
        if self._client is not None and self.connected:
            self._client.unsubscribe(list(topics))

    # -- connection -----------------------------------------------------------
    def start(self) -> None:
        """Start connecting (and reconnecting) in the background, on the running loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._inbox_scheduled = loop, False
        if self._client is None:
            self._start()

    async def connected_by(self, deadline: float) -> None:
        """Return once connected; RelayUnreachable/RelayRefused at ``deadline``."""
        self.start()
        while not self.connected:
            if self._refused is not None:
                raise RelayRefused(f"{self.describe()}: {self._refused}")
            if not await self._changed.wait(deadline):
                why = f": {self.unreachable_why}" if self.unreachable_why else ""
                raise RelayUnreachable(f"{self.describe()} not reachable within the deadline{why}")

    def _start(self) -> None:
        cfg = self.config
        client_id = f"{cfg.client_id_prefix}-{secrets.token_hex(4)}"
        # MQTT 5 for its subscription option retain_as_published: a command
        # published with retain while we are subscribed reaches us with the flag
        # cleared under 3.1.1 (§3.3.1.3), so only v5 lets us refuse it (mqtt_remote).
        # v5 also tells us when the broker's ACL refuses a publish (PUBACK 0x87).
        client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password else None
            client.username_pw_set(cfg.username, password)
        if cfg.use_tls:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.certfile, keyfile=cfg.keyfile,
                           cert_reqs=ssl.CERT_REQUIRED)
            if cfg.tls_insecure:
                _LOG.warning("%s: tls_insecure: the broker's certificate is not checked "
                             "against its host name", self.describe())
                client.tls_insecure_set(True)
        client.enable_logger(_TlsAlerts(self))
        client.reconnect_delay_set(*RECONNECT_S)
        client.max_inflight_messages_set(INFLIGHT)
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
        # clean_start on every connection, not only the first (paho's default)
        client.connect_async(cfg.host, cfg.effective_port, keepalive=cfg.keepalive,
                             clean_start=True)
        client.loop_start()  # connects, and reconnects with back-off, in paho's thread

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` on the asyncio loop (called from paho's thread), in order.

        Messages that arrive while the loop is busy wait in one queue and are
        handed over together: one wake-up of the loop for a burst, not one per
        message (ten thousand relays answering at once).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._inbox_lock:
            self._inbox.append((callback, args))
            if self._inbox_scheduled:
                return
            self._inbox_scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop closed since the check
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._inbox_lock:
            batch, self._inbox = self._inbox, collections.deque()
            self._inbox_scheduled = False
        for callback, args in batch:
            try:
                callback(*args)
            except Exception:  # one bad callback must not drop the messages after it
                _LOG.exception("MQTT callback %s failed", getattr(callback, "__name__", callback))

    # paho thread ---------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if not rc.is_failure:
            # Every connection is a clean session; the barrier topic orders
            # retained messages before the answer to a barrier (see barrier()).
            client.subscribe(self._barrier_topic, qos=1)
        self._post(self._connection, not rc.is_failure,
                   f"refused the connection: {rc}" if rc.is_failure else None)

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        # paho calls this inside its ``except OSError`` and keeps the error to itself
        err = sys.exc_info()[1]
        refused = None
        if isinstance(err, ssl.SSLCertVerificationError):
            # The wrong broker (or a wrong CA in our config): retrying will not help.
            refused = f"TLS: we did not accept its certificate: {err.verify_message.rstrip('.')}"
        elif isinstance(err, ssl.SSLError):
            refused = f"TLS handshake failed: {_tls_reason(err)}"
        # A name that does not resolve may resolve later (retried, not refused): said with
        # the deadline's failure, not logged, so a command's answer is its one line.
        self.unreachable_why = (f"the host name {self.config.host} does not resolve "
                                f"({err.strerror or err})"
                                if isinstance(err, socket.gaierror) else None)
        self._post(self._connection, False, refused)

    def tls_alert(self, err: ssl.SSLError) -> None:
        """The broker ended TLS with an alert after the handshake (paho's thread)."""
        self._post(self._connection, False, f"TLS: it refused us: {_tls_reason(err)}")

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._post(self._connection, False, None)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._post(self._dispatch, msg.topic, msg.payload, bool(msg.retain))

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, codes: list[ReasonCode],
                      _p: Any) -> None:
        self._post(self._ack, mid, codes)

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._post(self._puback, mid, rc)

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
        if refused is not None and refused != self._refused:
            _LOG.warning("%s: %s", self.describe(), refused)
        if up or refused is not None:  # the disconnect that follows a refusal keeps its reason
            self._refused = refused
        if not up:
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(RelayUnreachable(f"lost {self.describe()}"))
            self._acks.clear()
            for out in self._window.values():
                _fail(out.done, RelayUnreachable(f"lost {self.describe()}"))
            self._window.clear()
            while self._waiting:
                _fail(self._waiting.popleft().done,
                      NotSent(f"lost {self.describe()} before the message was sent"))
        self._changed.notify()

    def _dispatch(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self._barrier_topic:
            self._ack(-int.from_bytes(payload[:4], "big") - 1, None)
            return
        if (relay := self._relays.get(topic)) is not None:
            relay.receive(topic, payload, retained)
            for other in self._also.get(topic, ()):
                other.receive(topic, payload, retained)
        for pattern, receivers in self._patterns.items():
            if paho.topic_matches_sub(pattern, topic):
                for receiver in receivers:
                    receiver.receive(topic, payload, retained)

    def _ack(self, mid: int, codes: list[ReasonCode] | None) -> None:
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(codes)

    # requests ------------------------------------------------------------------
    async def _acked(self, mid: int, deadline: float, what: str) -> list[ReasonCode] | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[ReasonCode] | None] = loop.create_future()
        self._acks[mid] = fut
        # a timer, not asyncio.wait_for (a task per wait on Python 3.11)
        timer = loop.call_later(max(0.0, deadline - time.monotonic()),
                                self._ack_timeout, mid, fut, what)
        try:
            return await fut
        finally:
            timer.cancel()

    def _ack_timeout(self, mid: int, fut: asyncio.Future[list[ReasonCode] | None],
                     what: str) -> None:
        if self._acks.get(mid) is fut:
            del self._acks[mid]
        if not fut.done():
            fut.set_exception(RelayUnreachable(f"{self.describe()} did not acknowledge {what} "
                                               "within the deadline"))

    def _client_or_raise(self) -> paho.Client:
        if self._client is None or not self.connected:
            raise RelayUnreachable(f"not connected to {self.describe()}")
        return self._client

    async def subscribe(self, topics: tuple[str, ...], deadline: float, *,
                        retain_as_published: bool = False, qos: int = 1) -> None:
        """Subscribe (QoS 1 unless told). ``retain_as_published``: messages keep the retain
        flag they were published with, also while we are subscribed (command topics)."""
        codes = await self._subscribe(list(topics), deadline, SubscribeOptions(
            qos=qos, retainAsPublished=retain_as_published))
        if any(code.is_failure for code in codes):
            raise RelayRefused(f"{self.describe()} refused a subscription to {', '.join(topics)}")

    async def _subscribe(self, topics: list[str], deadline: float,
                         options: SubscribeOptions) -> list[ReasonCode]:
        """One SUBSCRIBE; the broker's code for each topic."""
        rc, mid = self._client_or_raise().subscribe([(t, options) for t in topics])
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise RelayUnreachable(f"cannot subscribe on {self.describe()}: {paho.error_string(rc)}")
        return await self._acked(mid, deadline, "our subscription") or []

    async def ready(self, topics: tuple[str, ...], receiver: Receiver, deadline: float) -> None:
        """Connected, ``topics`` subscribed on this connection, and their retained messages seen.

        Every connection is a clean session, so a reconnection subscribes again.
        A relay's state and availability come at QoS 0: a report lost (only with the
        connection) is asked for again, never taken as an answer, and QoS 1 would
        cost a PUBACK per report and put ten thousand relays' reports through the
        broker's in-flight window (mosquitto's max_inflight_messages, 20 by default:
        README "Scaling"). The relays that ask in one turn of the loop (all of them,
        at start) are subscribed together: a few SUBSCRIBE packets and one barrier,
        not one each.
        """
        await self.connected_by(deadline)
        if self._subscribed.get(receiver) != self.generation:
            generation = self.generation
            self.route(topics, receiver)
            codes = await self._join(topics, deadline)
            if any(code.is_failure for code in codes):
                raise RelayRefused(f"{self.describe()} refused a subscription to "
                                   f"{', '.join(topics)}")
            self._subscribed[receiver] = generation

    async def _join(self, topics: tuple[str, ...], deadline: float) -> list[ReasonCode]:
        """Subscribe ``topics`` with the others asking in this turn of the loop; their codes."""
        loop = asyncio.get_running_loop()
        batch = self._joining
        if batch is None:
            batch = self._joining = _Joining(loop.create_future())
            loop.call_soon(self._start_batch, batch)
        first = len(batch.topics)
        batch.topics.extend(topics)
        batch.deadline = max(batch.deadline, deadline)
        mine: asyncio.Future[list[ReasonCode]] = loop.create_future()
        batch.done.add_done_callback(lambda done: _pass_on(done, mine))
        timer = loop.call_later(max(0.0, deadline - time.monotonic()), _fail, mine,
                                RelayUnreachable(f"{self.describe()} did not acknowledge our "
                                                 "subscription within the deadline"))
        try:
            codes = await mine
        finally:
            timer.cancel()
        return codes[first:first + len(topics)]

    def _start_batch(self, batch: _Joining) -> None:
        self._joining = None
        task = asyncio.get_running_loop().create_task(self._subscribe_batch(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _subscribe_batch(self, batch: _Joining) -> None:
        try:
            options = SubscribeOptions(qos=0)
            chunks = [batch.topics[i:i + SUBSCRIBE_CHUNK]
                      for i in range(0, len(batch.topics), SUBSCRIBE_CHUNK)]
            codes = [code for chunk in await asyncio.gather(
                *(self._subscribe(chunk, batch.deadline, options) for chunk in chunks))
                for code in chunk]
            await self.barrier(batch.deadline)
        except RelayError as err:
            batch.done.set_exception(err)
        else:
            batch.done.set_result(codes)

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
        and discovery messages are (``retain=True``). Raises :class:`NotSent`
        when nothing left for the broker: not connected, or still waiting for a
        place in the window (INFLIGHT) at ``deadline``, and then it never will.
        Once handed to paho, paho keeps it and sends it again on the next
        connection, so it may still arrive.
        """
        try:
            self._client_or_raise()
        except RelayUnreachable as err:
            raise NotSent(str(err)) from None
        loop = asyncio.get_running_loop()
        out = _Outgoing(topic, payload, retain, deadline, loop.create_future())
        timer = loop.call_later(max(0.0, deadline - time.monotonic()), self._publish_timeout, out)
        self._waiting.append(out)
        self._pump()
        try:
            refused = await out.done
        finally:
            timer.cancel()
        if refused is not None:
            # PUBACK with a failure code: the broker (its ACL) dropped it
            raise RelayRefused(f"{self.describe()} refused our message to {topic} (not "
                               "authorised by its access list?)")

    def _pump(self) -> None:
        """Hand waiting messages to paho, in order, while the window has room."""
        while self._waiting and len(self._window) < INFLIGHT:
            out = self._waiting.popleft()
            if out.deadline <= time.monotonic():  # (its timer may not have run yet)
                self._publish_timeout(out)
            elif not out.done.done():
                self._hand(out)

    def _hand(self, out: _Outgoing) -> None:
        if self._client is None or not self.connected:
            _fail(out.done, NotSent(f"not connected to {self.describe()}"))
            return
        try:
            info = self._client.publish(out.topic, out.payload, qos=1, retain=out.retain)
        except ValueError as err:  # (a topic paho refuses: raised to the caller)
            _fail(out.done, err)
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            _fail(out.done, NotSent(f"cannot publish to {out.topic} on {self.describe()}: "
                                    f"{paho.error_string(info.rc)}"))
        elif info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            _fail(out.done, RelayUnreachable(
                f"lost {self.describe()} while publishing to {out.topic} (paho sends it again "
                "when the connection returns)"))
        else:
            out.mid = info.mid
            self._window[info.mid] = out

    def _puback(self, mid: int, code: ReasonCode) -> None:
        out = self._window.pop(mid, None)
        if out is not None:
            if not out.done.done():
                out.done.set_result(code if code.is_failure else None)
            self._pump()

    def _publish_timeout(self, out: _Outgoing) -> None:
        # A message handed to paho keeps its place in the window until its PUBACK (or
        # the connection's end): paho still has it in flight.
        if out.mid is None:
            _fail(out.done, NotSent(f"the message to {out.topic} could not be sent to "
                                    f"{self.describe()} within the deadline (its window of "
                                    f"{INFLIGHT} unacknowledged messages stayed full)"))
        else:
            _fail(out.done, RelayUnreachable(f"{self.describe()} did not acknowledge the "
                                             f"command to {out.topic} within the deadline"))
