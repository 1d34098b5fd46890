"""MQTT on a bad day, beyond test_mqtt.py (LWT offline before a command, broker down,
broker restarted between commands, a relay that ignores commands, garbage payloads):

- the broker killed in the middle of a command, restarted or not;
- the relay's LWT saying offline while we wait for its confirmation;
- duplicated and out-of-order state reports (a fake link: exact message order);
- Nagle off on our connection; many simulated relays on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.adapters import mqtt as mqtt_adapter
from gasstove.adapters import mqtt_relay
from gasstove.adapters.mqtt import MqttBroker
from gasstove.adapters.mqtt_relay import MqttRelay, NotSent, Receiver
from gasstove.domain.errors import RelayUnreachable, Unconfirmed
from gasstove.domain.mqtt_config import MqttBrokerConfig, MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import TasmotaFleet

from .fixtures_mqtt import Mosquitto, MqttSim
from .test_mqtt import NC, block, run, stove_for, until

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("comes_back", [True, False])
@run
async def test_broker_killed_mid_command(
    own_mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], comes_back: bool,
) -> None:
    """Killed as the relay switches: confirmed after the restart, or reported failed in time."""
    def killed(what: str) -> None:
        if "energised" in what and own_mosquitto._proc is not None:
            own_mosquitto._proc.kill()  # no clean shut-down; its reports may be lost with it

    sim = mqtt_sim(block("tasmota", device_timer=False), broker=own_mosquitto, on_change=killed)
    stove, _ = stove_for(own_mosquitto, {"front": sim.relay}, deadline=4.0)
    try:
        assert (await stove.status(["front"]))[0].ok
        if comes_back:
            def restart() -> None:
                time.sleep(0.3)
                own_mosquitto._proc = None
                own_mosquitto.start()
            threading.Thread(target=restart, daemon=True).start()
        start = time.monotonic()
        (outcome,) = await stove.shut_off(["front"])
        elapsed = time.monotonic() - start
    finally:
        await stove.close()
    assert not sim.burner.lit, "the relay did switch"
    if comes_back:
        assert outcome.ok, outcome.message
        assert not sim.sim.energised, "restored once the broker was back"
    else:
        assert not outcome.ok
        assert "NOT confirmed" in outcome.message or "restore" in outcome.message
        assert "\n" not in outcome.message
        assert elapsed < 4.0 * 2 + 1.5  # the cut's deadline, then the restore's


@pytest.mark.parametrize("dialect", ["esphome", "zigbee2mqtt"])  # Z2M: the bridge's LWT
@run
async def test_relay_goes_offline_while_we_wait_for_its_confirmation(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str,
) -> None:
    sim = mqtt_sim(block(dialect), ignore_commands=True)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=5.0)
    try:
        assert (await stove.status(["front"]))[0].ok
        threading.Timer(0.3, sim.sim.kill).start()  # power lost after our command
        start = time.monotonic()
        (outcome,) = await stove.shut_off(["front"])
        elapsed = time.monotonic() - start
    finally:
        await stove.close()
    assert not outcome.ok and "offline" in outcome.message, outcome.message
    assert elapsed < 2.0, "the LWT ends the wait; the deadline is 5 s"


# -- exact message order on a fake link -------------------------------------------------


@dataclass
class FakeLink:
    """An MqttLink whose device answers are scripted: ``answers`` maps ``topic=payload``
    published to the (topic, payload) reports delivered, in that order, right after it."""

    answers: dict[str, list[list[tuple[str, bytes]]]] = field(default_factory=dict)
    published: list[tuple[str, str]] = field(default_factory=list)
    receiver: Receiver | None = None
    connected: bool = True

    def describe(self) -> str:
        return "fake broker"

    def attach(self) -> None:
        pass

    async def release(self) -> None:
        pass

    async def ready(self, topics: tuple[str, ...], receiver: Receiver, deadline: float) -> None:
        self.receiver = receiver

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        self.published.append((topic, payload))
        script = self.answers.get(f"{topic}={payload}")
        if script:
            reports = script.pop(0)
            loop = asyncio.get_running_loop()
            assert self.receiver is not None
            for t, p in reports:  # delivered together, as one network read would
                loop.call_soon(self.receiver.receive, t, p, False)


def tasmota(link: FakeLink) -> MqttRelay:
    config = MqttRelayConfig.model_validate({"type": "mqtt", "dialect": "tasmota",
                                             "topic": "t", "device_timer": False})
    return MqttRelay(config, link)


ON, OFF = [("stat/t/POWER1", b"ON")], [("stat/t/POWER1", b"OFF")]


@run
async def test_duplicated_reports_confirm_once_and_a_repeated_old_state_never_confirms() -> None:
    link = FakeLink({"cmnd/t/POWER=": [OFF + OFF], "cmnd/t/POWER=ON": [ON + ON + ON]})
    relay = tasmota(link)
    assert await relay.read(deadline=time.monotonic() + 1) is False
    await relay.switch(True, deadline=time.monotonic() + 1)
    await relay.wait_for(True, deadline=time.monotonic() + 1)  # ON three times: fine

    # the old state, duplicated, to the command and to every poll
    link.answers = {"cmnd/t/POWER=ON": [OFF + OFF], "cmnd/t/POWER=": [OFF + OFF] * 10}
    relay2 = tasmota(link)
    await relay2.switch(True, deadline=time.monotonic() + 1)
    with pytest.raises(Unconfirmed, match="still reports the relay released"):
        await relay2.wait_for(True, deadline=time.monotonic() + 0.8)


@run
async def test_a_stale_report_arriving_after_the_fresh_one_is_asked_again() -> None:
    """ON then a late OFF (another topic, sent before the command): not confirmed on
    the ON alone, nor failed on the OFF; the re-poll's answer decides."""
    link = FakeLink({"cmnd/t/POWER=ON": [[*ON, ("tele/t/STATE", b'{"POWER1": "OFF"}')]],
                     "cmnd/t/POWER=": [ON]})
    relay = tasmota(link)
    await relay.switch(True, deadline=time.monotonic() + 2)
    start = time.monotonic()
    await relay.wait_for(True, deadline=time.monotonic() + 2)
    polls = [p for t, p in link.published if t == "cmnd/t/POWER" and p == ""]
    assert len(polls) == 1 and time.monotonic() - start < 1.5


@dataclass
class CloggedLink(FakeLink):
    """A connection so busy that a state request is not acknowledged before the deadline,
    although the device's answer to it gets through."""

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        await super().publish(topic, payload, deadline, retain=retain)
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        raise RelayUnreachable("fake broker did not acknowledge it within the deadline")


@run
async def test_a_report_confirms_while_our_request_still_waits_and_is_not_repeated() -> None:
    """The device's report decides, not the broker's acknowledgement of our request; and a
    request still queued is not sent again (10,000 relays on one connection, README
    "Scaling")."""
    link = CloggedLink({"cmnd/t/POWER=": [[], [], ON]})  # two requests unanswered...
    relay = tasmota(link)
    start = time.monotonic()
    with pytest.raises(Unconfirmed, match="no state report"):
        await relay.read(deadline=start + 1.5)
    polls = [p for t, p in link.published if t == "cmnd/t/POWER" and p == ""]
    assert len(polls) == 1, "asked once: the request never left the queue"
    assert time.monotonic() - start < 1.7
    link.answers = {"cmnd/t/POWER=": [ON]}  # ...and this one answered at once
    start = time.monotonic()
    assert await relay.read(deadline=start + 5) is True
    assert time.monotonic() - start < 0.5
    await relay.close()


# -- our connection, and many relays on one -----------------------------------------------


@run
async def test_our_connection_sends_small_packets_at_once(mosquitto: Mosquitto) -> None:
    broker = MqttBroker(MqttBrokerConfig.model_validate(
        {"host": mosquitto.host, "port": mosquitto.port}))
    broker.attach()
    try:
        await broker.connected_by(time.monotonic() + 3)
        assert broker._client is not None
        sock = socket.socket(fileno=os.dup(broker._client.socket().fileno()))  # (paho's, read ahead)
        with sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        await broker.release()


@run
async def test_reports_that_arrive_together_are_each_handed_on_at_once(
        mosquitto: Mosquitto) -> None:
    """Many packets in one read from the socket (thousands of relays answering at once,
    a re-subscription's retained replay) are each handled straight away, not one per
    wait on the socket: paho's loop sleeps up to a second there (issue 17)."""
    topics = tuple(f"gs-{secrets.token_hex(3)}/{i}" for i in range(50))
    ear = _Ear()
    async with _retained_heard(mosquitto, topics, ear):
        assert await until(lambda: len(ear.heard) == len(topics), 3), (
            f"{len(ear.heard)} of {len(topics)} retained reports handed on within 3 s")


@run
async def test_every_relay_of_a_shared_topic_hears_its_messages(mosquitto: Mosquitto) -> None:
    """Two relays of one device share its LWT, RESULT and STATE topics (Tasmota's POWER1
    and POWER2): each hears every message once, also when each routes the topic again (as
    every relay does on a new connection)."""
    topic = f"tele/gs-{secrets.token_hex(3)}/LWT"
    first, second = _Ear(), _Ear()
    async with _retained_heard(mosquitto, (topic,), first, second) as broker:
        broker.route((topic,), first)
        broker.route((topic,), second)
        assert await until(lambda: first.heard == second.heard == [topic], 3), (
            first.heard, second.heard)


class _Ear:
    def __init__(self) -> None:
        self.heard: list[str] = []

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        self.heard.append(topic)


@contextlib.asynccontextmanager
async def _retained_heard(mosquitto: Mosquitto, topics: tuple[str, ...],
                          *ears: _Ear) -> AsyncIterator[MqttBroker]:
    """A retained message on each of ``topics``, then our connection subscribed to them
    with ``ears`` routed."""
    other = paho.Client(CallbackAPIVersion.VERSION2)
    other.connect(mosquitto.host, mosquitto.port)
    other.loop_start()
    for topic in topics:
        other.publish(topic, "Online", qos=1, retain=True).wait_for_publish(2)
    other.loop_stop()
    other.disconnect()
    broker = MqttBroker(MqttBrokerConfig.model_validate(
        {"host": mosquitto.host, "port": mosquitto.port}))
    broker.attach()
    try:
        await broker.connected_by(time.monotonic() + 3)
        for ear in ears:
            broker.route(topics, ear)
        await broker.subscribe(topics, time.monotonic() + 3)
        yield broker
    finally:
        await broker.release()


@run
async def test_a_fleet_of_simulated_relays_on_one_connection(mosquitto: Mosquitto) -> None:
    relays = [block("tasmota") for _ in range(5)]
    changes: list[tuple[str, str]] = []
    fleet = TasmotaFleet(
        [(MqttRelayConfig.model_validate({"type": "mqtt", **r}), Burner(f"b{i}"), NC)
         for i, r in enumerate(relays)],
        host=mosquitto.host, port=mosquitto.port,
        on_change=lambda topic, what: changes.append((topic, what)))
    fleet.start()
    stove, _ = stove_for(mosquitto, {f"b{i}": r for i, r in enumerate(relays)})
    try:
        outcomes = await stove.shut_off(list(stove.relays))
        assert all(o.ok for o in outcomes), [o.message for o in outcomes]
        assert await until(lambda: sum("released" in w for _, w in changes) == 5, 3)
        assert all(not sim.energised for sim in fleet.sims.values())
        assert fleet.sims[relays[0]["topic"]].wiring is Wiring.NORMALLY_CLOSED
    finally:
        await stove.close()
        fleet.stop()


# -- only a live report after our command confirms (issue 13 item 1) ---------------------


def esphome(link: FakeLink) -> MqttRelay:
    config = MqttRelayConfig.model_validate({"type": "mqtt", "dialect": "esphome", "topic": "e"})
    return MqttRelay(config, link)


@run
async def test_a_retained_state_after_a_live_report_never_confirms() -> None:
    """A live OFF after the command, then a retained ON (our re-subscription after a
    reconnect hands us whatever any client left retained): not a confirmation."""
    link = FakeLink()
    relay = esphome(link)
    await relay.switch(True, deadline=time.monotonic() + 1)
    assert link.receiver is not None
    link.receiver.receive("e/switch/relay/state", b"OFF", False)
    link.receiver.receive("e/switch/relay/state", b"ON", True)
    with pytest.raises(Unconfirmed):
        await relay.wait_for(True, deadline=time.monotonic() + 0.5)


@run
async def test_a_periodic_tasmota_state_never_confirms() -> None:
    """tele/STATE is a snapshot sent every TelePeriod, perhaps before the device ran our
    command: only the answer to the command (stat/...) or to a later request confirms."""
    link = FakeLink({"cmnd/t/POWER=ON": [[("tele/t/STATE", b'{"Time":"x","POWER1":"ON"}')]],
                     "cmnd/t/POWER=": [OFF] * 10})
    relay = tasmota(link)
    await relay.switch(True, deadline=time.monotonic() + 1)
    with pytest.raises(Unconfirmed, match="still reports the relay released"):
        await relay.wait_for(True, deadline=time.monotonic() + 0.8)


# -- bounded time, and what a failed command may have done (issue 13 items 8, 3) ----------


@pytest.mark.parametrize("fault", ["silent relay", "paused broker"])
@run
async def test_an_unconfirmed_cut_is_reported_within_the_deadline_of_sending_it(
    own_mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], fault: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay that never answers, or a broker that stops answering (SIGSTOP: the TCP
    connection stays up, no PUBACK ever comes): failed within deadline + 0.5 s of the
    command, saying the command may have reached the relay."""
    sim = mqtt_sim(block("esphome"), broker=own_mosquitto, ignore_commands=True)
    stove, _ = stove_for(own_mosquitto, {"front": sim.relay}, deadline=1.0)
    relay = stove.relays["front"]
    assert isinstance(relay, MqttRelay)
    sent: list[float] = []
    publish = relay._link.publish

    async def spy(topic: str, payload: str, deadline: float, *, retain: bool = False) -> None:
        if topic.endswith("/command"):
            sent.append(time.monotonic())
        await publish(topic, payload, deadline, retain=retain)

    monkeypatch.setattr(relay._link, "publish", spy)
    proc = own_mosquitto._proc
    assert proc is not None
    try:
        await relay.identify(deadline=time.monotonic() + 2)
        if fault == "paused broker":
            proc.send_signal(signal.SIGSTOP)
        (outcome,) = await stove.shut_off(["front"])
        reported = time.monotonic()
        await stove.close()
    finally:
        proc.send_signal(signal.SIGCONT)
    assert not outcome.ok and sent
    assert reported - sent[0] <= 1.0 + 0.5, reported - sent[0]
    assert "the command may have reached the relay: it may be energised now" in outcome.message
    assert sim.burner.lit


@run
async def test_a_cut_never_sent_says_nothing_was_sent(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim],
) -> None:
    sim = mqtt_sim(block("tasmota"))
    sim.sim.kill()  # its LWT says offline: we refuse before sending
    await asyncio.sleep(0.2)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=1.0)
    try:
        (outcome,) = await stove.shut_off(["front"])
    finally:
        await stove.close()
    assert not outcome.ok and "nothing was sent to the relay" in outcome.message
    assert "may have reached" not in outcome.message


@run
async def test_a_message_that_waited_past_its_deadline_for_the_window_is_never_sent(
    own_mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broker that stops answering (SIGSTOP) fills the window of unacknowledged
    messages: those behind it wait in our queue (not paho's: ~3 KB each there, issue 17)
    and, at their deadline, fail as not sent, and are not sent when the broker wakes: a
    cut reported "nothing was sent" must not reach the relay later."""
    monkeypatch.setattr(mqtt_adapter, "INFLIGHT", 3)
    heard: list[bytes] = []
    watcher = paho.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda _c, _u, msg: heard.append(msg.payload)
    watcher.connect(own_mosquitto.host, own_mosquitto.port)
    watcher.subscribe("w/#", qos=1)
    watcher.loop_start()
    broker = MqttBroker(MqttBrokerConfig.model_validate(
        {"host": own_mosquitto.host, "port": own_mosquitto.port}))
    broker.attach()
    proc = own_mosquitto._proc
    assert proc is not None
    try:
        await broker.connected_by(time.monotonic() + 3)
        await broker.publish("w/0", "before", time.monotonic() + 3)
        assert await until(lambda: heard == [b"before"], 3)
        proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 0.5
        results = await asyncio.gather(
            *(broker.publish(f"w/{i}", f"m{i}", deadline) for i in range(1, 6)),
            return_exceptions=True)
        assert broker._client is not None
        assert len(broker._client._out_messages) <= 3  # paho holds the window, no more
        proc.send_signal(signal.SIGCONT)
        assert await until(lambda: len(heard) == 4, 5), heard
        await asyncio.sleep(0.5)  # nothing more comes
    finally:
        proc.send_signal(signal.SIGCONT)
        await broker.release()
        watcher.loop_stop()
        watcher.disconnect()
    handed, waited = results[:3], results[3:]
    assert all(isinstance(r, RelayUnreachable) and not isinstance(r, NotSent) for r in handed)
    assert all(isinstance(r, NotSent) and "within the deadline" in str(r) for r in waited)
    assert sorted(heard) == [b"before", b"m1", b"m2", b"m3"]


@dataclass
class SlowEchoLink(FakeLink):
    """A Zigbee2MQTT bridge whose optimistic echo of a /set comes late (a slow Zigbee
    round trip) while the device, which ignored it, answers /get with the truth."""

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        self.published.append((topic, payload))
        assert self.receiver is not None
        loop = asyncio.get_running_loop()
        if topic.endswith("/set"):
            loop.call_later(0.45, self.receiver.receive, "z2m/r", b'{"state":"ON"}', False)
        elif topic.endswith("/get"):
            loop.call_soon(self.receiver.receive, "z2m/r", b'{"state":"OFF"}', False)


@run
async def test_a_late_zigbee2mqtt_echo_never_confirms() -> None:
    link = SlowEchoLink()
    relay = MqttRelay(MqttRelayConfig.model_validate(
        {"type": "mqtt", "dialect": "zigbee2mqtt", "topic": "r", "base_topic": "z2m",
         "device_timer": False}), link)
    await relay.switch(True, deadline=time.monotonic() + 1)
    with pytest.raises(Unconfirmed):
        await relay.wait_for(True, deadline=time.monotonic() + 1.5)


@dataclass
class RetainedLink(FakeLink):
    """Answers every state request with a retained copy only (a re-subscription's replay
    of whatever any client left retained), never the device's live answer."""

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        self.published.append((topic, payload))
        assert self.receiver is not None
        asyncio.get_running_loop().call_soon(self.receiver.receive, "stat/t/POWER1", b"ON", True)


@run
async def test_a_read_is_answered_by_the_device_not_by_a_retained_copy() -> None:
    relay = tasmota(RetainedLink())
    with pytest.raises(Unconfirmed, match="no state report"):
        await relay.read(deadline=time.monotonic() + 0.8)


@run
async def test_a_shelly_rpc_reply_to_a_request_made_before_the_command_never_confirms() -> None:
    """The device answers in order: a Switch.GetStatus reply to a request sent before our
    Switch.Set tells the state before it, however late it arrives."""
    link = FakeLink()
    relay = MqttRelay(MqttRelayConfig.model_validate(
        {"type": "mqtt", "dialect": "shelly_rpc", "topic": "p", "device_timer": False}), link)
    early = json.loads(relay.dialect.poll()[0].payload)["id"]  # asked before the command
    await relay.switch(True, deadline=time.monotonic() + 1)
    assert link.receiver is not None
    link.receiver.receive("gasstove-p/rpc", json.dumps(
        {"id": early, "result": {"id": 0, "output": True}}).encode(), False)
    with pytest.raises(Unconfirmed):
        await relay.wait_for(True, deadline=time.monotonic() + 0.3)


@dataclass
class QueuedLink(FakeLink):
    """A busy connection: each message waits ``wait_s`` for its turn to leave; the
    device (Tasmota, timing its own pulse) reports the cut as it gets it, and the
    pulse's end ``pulse_s`` later, plus ``report_s`` for that report to come back."""

    wait_s: float = 0.0
    pulse_s: float = 0.0
    report_s: float = 0.0

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        await asyncio.sleep(self.wait_s)
        self.published.append((topic, payload))
        assert self.receiver is not None
        loop = asyncio.get_running_loop()
        if payload.endswith("POWER ON"):
            loop.call_soon(self.receiver.receive, "stat/t/POWER", b"ON", False)
            loop.call_later(self.pulse_s + self.report_s, self.receiver.receive,
                            "stat/t/POWER", b"OFF", False)


@run
async def test_a_pulse_is_due_from_its_confirmed_start_not_from_a_command_that_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17: at scale a command waits its turn to leave (the connection's window)
    longer than PULSE_END_S, and the device times its pulse from the command's arrival.
    Its own report of the pulse's end still comes within PULSE_END_S of the confirmed
    start plus the pulse, and ends it: no restore command (at 10,000 relays, counting
    from our command sent ~5,700 needless restores)."""
    monkeypatch.setattr(mqtt_relay, "PULSE_END_S", 0.2)
    link = QueuedLink(wait_s=0.5, pulse_s=0.3, report_s=0.1)
    config = MqttRelayConfig.model_validate({"type": "mqtt", "dialect": "tasmota", "topic": "t"})
    relay = MqttRelay(config, link)
    await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=0.3)
    await relay.wait_for(True, deadline=time.monotonic() + 2)
    await asyncio.sleep(0.3)  # the pulse, as Stove sleeps it
    await relay.switch(False, deadline=time.monotonic() + 2)
    await relay.wait_for(False, deadline=time.monotonic() + 2)
    assert len(link.published) == 1, f"only the cut is sent: {link.published}"
    assert relay.energised is False
