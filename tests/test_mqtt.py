"""MQTT relays end to end: the Stove service, the transport, a real mosquitto, simulated firmware.

No mocks: every test talks through a real broker to a simulated relay that
drives a burner model. Topics get a random suffix so retained messages of one
test (an LWT "offline") never leak into another.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import queue
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.adapters import mqtt_relay
from gasstove.adapters.mqtt_relay import MqttRelay
from gasstove.adapters.relays import build_relays
from gasstove.control import Stove
from gasstove.domain.config import Config
from gasstove.domain.dialects import REGISTRY
from gasstove.domain.errors import RelayOffline, RelayRefused, Unconfirmed
from gasstove.domain.plan import Wiring
from gasstove.sim.broker import free_port
from gasstove.sim.mqtt_relays import TASMOTA_PASS_S, TASMOTA_SLEEP_S, thread_timer
from tests.fixtures_miio import Run
from tests.fixtures_mqtt import Mosquitto, MqttSim

pytestmark = pytest.mark.timeout(30)

DIALECTS = list(REGISTRY)  # a dialect added to the library is run through all of this
NC, NO = Wiring.NORMALLY_CLOSED, Wiring.NORMALLY_OPEN


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (pytest sees the wrapped signature)."""
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return sync


def block(dialect: str, **extra: Any) -> dict[str, Any]:
    """A relay block as a user writes it, on topics of its own."""
    u = secrets.token_hex(3)
    base: dict[str, dict[str, Any]] = {
        "tasmota": {"topic": f"kitchen-{u}", "channel": 1},
        "shelly": {"topic": f"shelly1-{u}"},
        "shelly_rpc": {"topic": f"shellyplus1-{u}"},
        "zigbee2mqtt": {"topic": f"stove relay {u}"},
        "esphome": {"topic": f"stove-{u}"},
        "generic": {"command_topic": f"gas/{u}/set", "state_topic": f"gas/{u}/state",
                    "availability_topic": f"gas/{u}/online", "get_topic": f"gas/{u}/get",
                    "state_json_path": "relay.state"},
    }
    if dialect not in base:
        return {**REGISTRY[dialect].example(f"{dialect}-{u}"), **extra}
    return {"dialect": dialect, **base[dialect], **extra}


def device_timer(dialect: str, wiring: Wiring) -> dict[str, Any]:
    """Config keys that make the device time a cut with this wiring (None if it cannot)."""
    if {"auto_off", "auto_on"} <= REGISTRY[dialect].keys:  # a timer declared, not per command
        return {"auto_off": True} if wiring is NC else {"auto_on": True}
    return {}


def stove_for(broker: Mosquitto | tuple[str, int], relays: dict[str, dict[str, Any]],
              wiring: Wiring = NC, deadline: float = 2.0) -> tuple[Stove, Config]:
    host, port = (broker.host, broker.port) if isinstance(broker, Mosquitto) else broker
    config = Config.model_validate({
        "stove": {"deadline": deadline, "burners": {
            name: {"wiring": wiring.value, "cut_seconds": 1, "relay": {"type": "mqtt", **relay}}
            for name, relay in relays.items()}},
        "mqtt": {"host": host, "port": port, "keepalive": 10},
    })
    return Stove(config.stove, build_relays(config)), config


async def until(condition: Callable[[], bool], within: float) -> bool:
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


def assert_out_for_good_and_restored(sim: MqttSim, wiring: Wiring) -> None:
    state = sim.burner.state()
    assert not state.flame and not state.valve_open, "the flame must be out"
    assert state.loop_closed, "the loop must be closed again so it can be relit by hand"
    assert sim.sim.energised is (wiring is NO)


# -- shut-off through the Stove service ------------------------------------------------


@pytest.mark.parametrize("wiring", [NC, NO])
@pytest.mark.parametrize("dialect", DIALECTS)
@run
async def test_stove_shuts_a_lit_burner_off(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str, wiring: Wiring
) -> None:
    sim = mqtt_sim(block(dialect), wiring=wiring)
    assert sim.burner.lit
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, wiring)
    try:
        (outcome,) = await stove.shut_off(["front"])
        status = await stove.status(["front"])
    finally:
        await stove.close()
    assert outcome.ok and outcome.restored, outcome.message
    assert_out_for_good_and_restored(sim, wiring)
    assert status[0].relay == "resting"


@run
async def test_two_relays_share_one_client_and_close_it(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    left, right = mqtt_sim(block("tasmota")), mqtt_sim(block("shelly_rpc"))
    stove, _ = stove_for(mosquitto, {"left": left.relay, "right": right.relay})
    a, b = stove.relays["left"], stove.relays["right"]
    assert isinstance(a, MqttRelay) and isinstance(b, MqttRelay)
    assert a._link is b._link
    outcomes = await stove.shut_off(["left", "right"])
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    await stove.close()
    assert a._link._client is None and not a._link.connected


# -- the device ends the pulse by itself ---------------------------------------------------

KILLED = [(d, w) for d in DIALECTS for w in (NC, NO) if not (d == "zigbee2mqtt" and w is NO)]


@pytest.mark.parametrize(("dialect", "wiring"), KILLED)
@run
async def test_device_restores_by_itself_when_we_die_mid_pulse(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str, wiring: Wiring
) -> None:
    extra = device_timer(dialect, wiring)
    sim = mqtt_sim(block(dialect, **extra), wiring=wiring, auto_seconds=1.0)
    stove, config = stove_for(mosquitto, {"front": sim.relay}, wiring)
    plan = config.stove.burners["front"].plan()
    assert plan.device_timed
    relay = stove.relays["front"]
    deadline = time.monotonic() + 2
    await relay.switch(plan.cut, deadline=deadline, pulse_seconds=plan.seconds)
    await relay.wait_for(plan.cut, deadline=deadline)
    assert not sim.burner.lit
    await relay.close()  # "killed": gone without restoring
    assert await until(lambda: sim.sim.energised is plan.rest, 2.5), "the device did not restore"
    assert_out_for_good_and_restored(sim, wiring)


@run
async def test_tasmota_lock_after_a_pulse_is_not_ended_by_pulse_time(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    sim = mqtt_sim(block("tasmota"))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    try:
        assert (await stove.shut_off(["front"]))[0].ok
        (locked,) = await stove.lock(["front"])
        assert locked.ok, locked.message
        await asyncio.sleep(1.3)  # longer than the PulseTime the shut-off set
        assert sim.sim.energised and not sim.burner.state().loop_closed
        assert (await stove.unlock(["front"]))[0].ok
    finally:
        await stove.close()


@run
async def test_declared_auto_off_refuses_a_lock_it_could_not_hold(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    sim = mqtt_sim(block("shelly", auto_off=True), auto_seconds=1.0)
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    try:
        (outcome,) = await stove.lock(["front"])
    finally:
        await stove.close()
    assert not outcome.ok and "auto_off is set on the device" in outcome.message
    assert sim.burner.lit and not sim.sim.energised  # nothing was sent


# -- confirmation comes from the device, not from us ---------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@run
async def test_a_relay_that_ignores_the_command_is_unconfirmed(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str
) -> None:
    # Zigbee2MQTT's sim still echoes {"state": "ON"} optimistically: only /get tells.
    sim = mqtt_sim(block(dialect), ignore_commands=True)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=1.0)
    start = time.monotonic()
    try:
        (outcome,) = await stove.shut_off(["front"])
    finally:
        await stove.close()
    assert not outcome.ok and "NOT confirmed" in outcome.message
    assert "still reports the relay released" in outcome.message or "no state report" in \
        outcome.message
    assert time.monotonic() - start < 1.0 + 1.0 / 3 + 0.5
    assert sim.burner.lit


@run
async def test_commands_are_never_retained(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    sim = mqtt_sim(block("tasmota"))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    try:
        assert (await stove.shut_off(["front"]))[0].ok
    finally:
        await stove.close()
    seen: list[str] = []
    spy = paho.Client(CallbackAPIVersion.VERSION2)
    spy.on_message = lambda _c, _u, msg: seen.append(msg.topic) if msg.retain else None
    spy.connect(mosquitto.host, mosquitto.port)
    spy.subscribe(f"cmnd/{sim.relay['topic']}/#")
    spy.loop_start()
    await asyncio.sleep(0.3)
    spy.disconnect()
    spy.loop_stop()
    assert seen == []


# -- availability, broker failures -------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@run
async def test_a_relay_whose_lwt_says_offline_fails_fast(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str
) -> None:
    sim = mqtt_sim(block(dialect))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    try:
        assert "online" in await relay.identify(deadline=time.monotonic() + 2)
        sim.sim.kill()  # power cut: the broker publishes its will (Z2M: the bridge's)
        assert await until(lambda: isinstance(relay, MqttRelay) and False in (
            relay._online, relay._bridge_online), 2)
        start = time.monotonic()
        (outcome,) = await stove.shut_off(["front"])
        assert time.monotonic() - start < 0.3
        assert not outcome.ok and "offline" in outcome.message
        with pytest.raises(RelayOffline):
            await relay.switch(True, deadline=time.monotonic() + 1)
    finally:
        await stove.close()


@run
async def test_offline_is_known_from_the_retained_lwt_before_the_first_command(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    sim = mqtt_sim(block("esphome"))
    sim.sim.kill()
    await asyncio.sleep(0.2)  # the broker stores the will as retained
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    try:
        with pytest.raises(RelayOffline, match="reports itself offline"):
            await stove.relays["front"].switch(True, deadline=time.monotonic() + 2)
    finally:
        await stove.close()


@run
async def test_broker_down_fails_within_the_deadline() -> None:
    stove, _ = stove_for(("127.0.0.1", free_port()), {"front": block("tasmota")}, deadline=1.0)
    start = time.monotonic()
    try:
        (outcome,) = await stove.shut_off(["front"])
    finally:
        await stove.close()
    assert time.monotonic() - start < 1.3
    assert not outcome.ok and "not reachable" in outcome.message


@run
async def test_broker_restarted_mid_session_reconnects_and_works(
    own_mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    sim = mqtt_sim(block("shelly_rpc"), broker=own_mosquitto)
    stove, _ = stove_for(own_mosquitto, {"front": sim.relay}, deadline=5.0)
    try:
        assert (await stove.status(["front"]))[0].ok
        own_mosquitto.restart()
        await asyncio.sleep(0.1)  # let the simulated device notice the drop
        assert await until(lambda: sim.sim.wait_connected(0), 4)
        (outcome,) = await stove.shut_off(["front"])
        assert outcome.ok, outcome.message
        assert_out_for_good_and_restored(sim, NC)
    finally:
        await stove.close()


# -- hostile publishers ------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@run
async def test_malformed_state_messages_are_logged_and_ignored(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = mqtt_sim(block(dialect))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    assert isinstance(relay, MqttRelay)
    garbage = [b"{not json", b"x" * 1_000_000, b'{"POWER1": 5, "state": [1], "output": "on"}',
               b"\xff\xfe", b"[" * 10_000, b"ON AND OFF"]
    try:
        await relay.identify(deadline=time.monotonic() + 2)
        vandal = paho.Client(CallbackAPIVersion.VERSION2)
        vandal.connect(mosquitto.host, mosquitto.port)
        vandal.loop_start()
        for topic in relay.dialect.subscriptions():
            for payload in garbage:
                vandal.publish(topic, payload, qos=1).wait_for_publish(2)
        vandal.disconnect()
        vandal.loop_stop()
        with caplog.at_level(logging.WARNING, logger="gasstove.adapters.mqtt_relay"):
            assert await until(lambda: "payload of 1000000 bytes" in caplog.text, 2)
        (status,) = await stove.status(["front"])  # still reads the device's own report
    finally:
        await stove.close()
    assert status.ok and status.relay == "resting", status.message
    assert sim.burner.lit
    assert "x" * 50 not in caplog.text  # payloads are not logged


@run
async def test_broker_refusing_a_password_is_refused_without_the_secret(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    # No anonymous clients and no password file: every login is refused.
    broker.conf.write_text(f"listener {broker.port} {broker.host}\nallow_anonymous false\n")
    broker.start()
    try:
        config = Config.model_validate({
            "stove": {"deadline": 1, "burners": {"front": {"relay": {"type": "mqtt",
                                                                       **block("tasmota")}}}},
            "mqtt": {"host": broker.host, "port": broker.port, "username": "stove",
                     "password": "s3cret-pw"}})
        relays = build_relays(config)
        with pytest.raises(RelayRefused, match="refused the connection") as caught:
            await relays["front"].read(deadline=time.monotonic() + 1)
        await relays["front"].close()
    finally:
        broker.stop()
    assert "s3cret" not in str(caught.value)


def test_the_relay_logic_imports_no_mqtt_client() -> None:
    # Home Assistant imports gasstove.adapters.mqtt_relay next to its own paho (1.6 on 2024.x).
    code = ("import sys, gasstove.adapters.mqtt_relay; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'paho'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- Zigbee2MQTT's bridge, and confirmations only from the device ---------------------------


@run
async def test_a_dead_zigbee2mqtt_bridge_fails_a_cut_at_once(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """Z2M's LWT is the bridge's (<base>/bridge/state); its devices' availability stays
    "online" when it dies, so only the bridge's state tells."""
    sim = mqtt_sim(block("zigbee2mqtt"))
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=5.0)
    relay = stove.relays["front"]
    try:
        assert "online" in await relay.identify(deadline=time.monotonic() + 2)
        sim.sim.kill()  # the bridge's process dies: the broker publishes its will
        await asyncio.sleep(0.3)
        assert "bridge OFFLINE" in await relay.identify(deadline=time.monotonic() + 2)
        start = time.monotonic()
        (outcome,) = await stove.shut_off(["front"])
        elapsed = time.monotonic() - start
    finally:
        await stove.close()
    assert not outcome.ok and "bridge" in outcome.message and "offline" in outcome.message, \
        outcome.message
    assert elapsed <= 1.0
    assert isinstance(relay, MqttRelay) and relay._online is True  # the device still "online"


def _forge(broker: Mosquitto, topic: str, payload: str, *, retain: bool = True) -> None:
    """Another client leaves a retained state on a relay's state topic (or, not
    retained, sends a message as the user's own client would)."""
    vandal = paho.Client(CallbackAPIVersion.VERSION2)
    vandal.connect(broker.host, broker.port)
    vandal.loop_start()
    vandal.publish(topic, payload, qos=1, retain=retain).wait_for_publish(2)
    vandal.disconnect()
    vandal.loop_stop()


NO_REQUEST = ["esphome", "generic"]  # firmwares without a state request (generic: no get_topic)


@pytest.mark.parametrize("works", [False, True])
@pytest.mark.parametrize("dialect", NO_REQUEST)
@run
async def test_a_forged_retained_state_never_confirms_a_cut(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str, works: bool
) -> None:
    relay_block = block(dialect, **({"availability_topic": None, "get_topic": None}
                                    if dialect == "generic" else {}))
    relay_block = {k: v for k, v in relay_block.items() if v is not None}
    sim = mqtt_sim(relay_block, ignore_commands=not works)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=1.0)
    relay = stove.relays["front"]
    assert isinstance(relay, MqttRelay)
    state_topic = relay.dialect.subscriptions()[0]
    _forge(mosquitto, state_topic, '{"relay": {"state": "ON"}}' if dialect == "generic" else "ON")
    try:
        await relay.switch(True, deadline=time.monotonic() + 1)
        start = time.monotonic()
        if works:
            await relay.wait_for(True, deadline=start + 1)  # by its own fresh report
            assert sim.sim.energised and not sim.burner.lit
        else:
            with pytest.raises(Unconfirmed):
                await relay.wait_for(True, deadline=start + 1)
            assert sim.burner.lit
            assert time.monotonic() - start < 1.5
    finally:
        _forge(mosquitto, state_topic, "")  # no retained state left for other tests
        await stove.close()


@run
async def test_an_esphome_relay_already_cut_cannot_confirm_and_says_so(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """ESPHome publishes a switch state only when it changes (Switch::publish_state's
    dedup) and has no state request: a cut of a relay already energised gets no fresh
    report, and we say so instead of confirming from the retained one."""
    sim = mqtt_sim(block("esphome"), energised=True)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, deadline=1.0)
    relay = stove.relays["front"]
    try:
        await relay.switch(True, deadline=time.monotonic() + 1)
        start = time.monotonic()
        with pytest.raises(Unconfirmed, match="does not report a state it already has and "
                                               "has no state request"):
            await relay.wait_for(True, deadline=start + 1)
        assert time.monotonic() - start < 1.5
    finally:
        await stove.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_check_warns_about_a_relay_that_cannot_confirm_a_hold(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], dialect: str, tmp_path: Path,
    stove: Run,
) -> None:
    relay_block = block(dialect)
    if dialect == "generic":
        del relay_block["get_topic"]
    sim = mqtt_sim(relay_block)
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({
        "stove": {"burners": {"left": {"relay": {"type": "mqtt", **sim.relay}}}},
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port}}))
    code, out, err = stove("-c", str(config), "check", "--json")
    (row,) = json.loads(out)["burners"]
    # The generic simulator does not retain its state: with no state request, the
    # check has nothing to read (exit 1), and still warns.
    assert code == (1 if dialect == "generic" else 0), row
    if dialect in NO_REQUEST:
        assert "cannot be confirmed" in row["warning"]
        _, _, err = stove("-c", str(config), "check")
        assert "left: warning:" in err and "a hold" in err
    else:
        assert "warning" not in row


@run
async def test_tasmota_hold_is_not_ended_by_the_rest_of_an_earlier_backlog(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """normally_open: a cut is `Backlog POWER OFF; Delay; POWER ON` on the device. A lock
    (a plain OFF) during that Delay must not be undone by the Backlog's POWER ON."""
    sim = mqtt_sim(block("tasmota"), wiring=NO)
    stove, _ = stove_for(mosquitto, {"front": sim.relay}, NO)
    relay = stove.relays["front"]
    try:
        deadline = time.monotonic() + 2
        await relay.switch(False, deadline=deadline, pulse_seconds=1.0)
        await relay.wait_for(False, deadline=deadline)
        deadline = time.monotonic() + 2
        await relay.switch(False, deadline=deadline)  # the hold, as a lock sends it
        await relay.wait_for(False, deadline=deadline)
        await asyncio.sleep(1.5)  # past the Delay
        assert not sim.sim.energised and not sim.burner.state().loop_closed
    finally:
        await stove.close()


@run
async def test_tasmota_cut_and_lock_reach_the_contact_without_the_backlog_pause(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """Tasmota waits SetOption34 (200 ms) between a plain Backlog's commands; a cut or a
    lock must not (issue 17): the coil moves within the device's own loop sleep and a pass,
    and the cut is still timed by the device (it ends with no restore from us)."""
    moved: list[float] = []
    sim = mqtt_sim(block("tasmota"), on_change=lambda _what: moved.append(time.monotonic()))
    stove, config = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    plan = config.stove.burners["front"].plan()
    try:
        for pulse in (plan.seconds, None):  # a cut, then a lock
            await relay.read(deadline=time.monotonic() + 2)  # subscribed: not timed
            moved.clear()
            sent = time.monotonic()
            deadline = sent + 2
            await relay.switch(True, deadline=deadline, pulse_seconds=pulse)
            await relay.wait_for(True, deadline=deadline)
            assert moved and moved[0] - sent < 0.15, moved and moved[0] - sent
            if pulse is not None:
                assert await until(lambda: sim.sim.energised is False, 2.5), "no device pulse"
        await asyncio.sleep(1.3)  # longer than the PulseTime the cut set: the lock holds
        assert sim.sim.energised
    finally:
        await stove.close()


@run
async def test_a_shelly_gen2_as_shipped_is_confirmed_by_notify_status_alone(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """A Gen2 device ships with the Mqtt component's status_ntf off: nothing comes on
    <prefix>/status/switch:0, only NotifyStatus on <prefix>/events/rpc (the simulator
    published both before, kinder than the device)."""
    sim = mqtt_sim(block("shelly_rpc"))
    prefix = sim.relay["topic"]
    heard: list[str] = []
    spy = paho.Client(CallbackAPIVersion.VERSION2)
    spy.on_message = lambda _c, _u, msg: heard.append(msg.topic)
    spy.connect(mosquitto.host, mosquitto.port)
    spy.loop_start()
    spy.subscribe(f"{prefix}/#", qos=1)
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    try:
        await asyncio.sleep(0.2)  # SUBACK
        deadline = time.monotonic() + 2
        await relay.switch(True, deadline=deadline, pulse_seconds=1.0)
        await relay.wait_for(True, deadline=deadline)
        # The spy's own connection may hear it a moment after the relay's did.
        for _ in range(50):
            if f"{prefix}/events/rpc" in heard:
                break
            await asyncio.sleep(0.02)
        assert sim.sim.energised and f"{prefix}/events/rpc" in heard
        await asyncio.sleep(0.1)  # a status/switch:0 sent with it would be here by now
        assert f"{prefix}/status/switch:0" not in heard
    finally:
        spy.disconnect()
        spy.loop_stop()
        await stove.close()


def test_tasmota_sleep_is_a_stored_setting_and_sleep_0_answers_within_a_pass(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """`Sleep` (CmndSleep) stores 0..250 ms, applies at once and answers on stat/RESULT.
    As shipped (50) a command waits up to 50 ms for the loop's next pass; after a user's
    one-time `Sleep 0` it waits at most for the pass under way (issue 17: the setting
    README's Tasmota section offers; the simulator answered "Unknown" before)."""
    waits: list[float] = []
    EPSILON = 1e-6  # (now + pass) - now, in floats

    def schedule(seconds: float, action: Callable[[], None]) -> Callable[[], None]:
        waits.append(seconds)
        return thread_timer(seconds, action)

    sim = mqtt_sim(block("tasmota"), schedule=schedule)
    topic = sim.relay["topic"]
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    console = paho.Client(CallbackAPIVersion.VERSION2)  # the device's web console, say
    console.on_message = lambda _c, _u, msg: answers.put(json.loads(msg.payload))
    console.connect(mosquitto.host, mosquitto.port)
    console.loop_start()
    console.subscribe(f"stat/{topic}/RESULT", qos=1)
    time.sleep(0.2)  # SUBACK

    def command(name: str, payload: str) -> dict[str, Any]:
        console.publish(f"cmnd/{topic}/{name}", payload, qos=1)
        while True:
            answer = answers.get(timeout=2)
            if name.upper() in (key.upper() for key in answer):
                return answer

    def switch_a_few_times() -> list[float]:
        waits.clear()
        for on in (True, False) * 4:
            state = "ON" if on else "OFF"
            assert command("POWER1", state) == {"POWER1": state}
            assert sim.sim.energised is on
        return list(waits)

    try:
        assert command("Sleep", "") == {"Sleep": {"50": {"Active": "50"}}}
        shipped = switch_a_few_times()
        assert max(shipped) <= TASMOTA_SLEEP_S and max(shipped) > TASMOTA_PASS_S, shipped
        assert command("Sleep", "0") == {"Sleep": {"0": {"Active": "0"}}}
        assert command("Sleep", "251") == {"Sleep": {"0": {"Active": "0"}}}  # only answers
        assert max(switch_a_few_times()) <= TASMOTA_PASS_S + EPSILON
        waits.clear()  # two commands at once: the second on the pass right after the first
        for state in ("ON", "OFF"):
            console.publish(f"cmnd/{topic}/POWER1", state, qos=1)
        assert [answers.get(timeout=2), answers.get(timeout=2)] == [{"POWER1": "ON"},
                                                                    {"POWER1": "OFF"}]
        assert max(waits) <= TASMOTA_PASS_S + EPSILON, waits
    finally:
        console.disconnect()
        console.loop_stop()


def test_check_reads_tasmotas_loop_sleep_and_offers_sleep_0(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
) -> None:
    """`stove check` asks a Tasmota how long its loop sleeps (a query: nothing switched)
    and says what that costs a command, offering the one-time `Sleep 0`; a relay whose
    firmware has no such setting gets no such line. Advice only: exit 0 either way."""
    tasmota, shelly = mqtt_sim(block("tasmota")), mqtt_sim(block("shelly"))
    topic = tasmota.relay["topic"]
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({
        "stove": {"deadline": 2, "burners": {
            "left": {"relay": {"type": "mqtt", **tasmota.relay}},
            "right": {"relay": {"type": "mqtt", **shelly.relay}}}},
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port}}))
    before = (tasmota.sim.energised, tasmota.burner.lit)
    code, out, _ = stove("-c", str(config), "check", "--json")
    left, right = json.loads(out)["burners"]
    assert code == 0 and left["speed"]["loop_sleep_ms"] == 50 and "speed" not in right
    assert f"send `Sleep 0` to cmnd/{topic}/Sleep once" in left["speed"]["says"]
    code, text, _ = stove("-c", str(config), "check")
    assert code == 0 and "left: speed: its main loop sleeps up to 50 ms" in text
    assert (tasmota.sim.energised, tasmota.burner.lit) == before and tasmota.sim.sleep == 0.05

    _forge(mosquitto, f"stat/{topic}/RESULT", '{"Sleep":{"0":{"Active":"0"}}}')
    try:  # a retained answer (old, or anyone's) is not the device's
        code, out, _ = stove("-c", str(config), "check", "--json")
        assert json.loads(out)["burners"][0]["speed"]["loop_sleep_ms"] == 50
    finally:
        _forge(mosquitto, f"stat/{topic}/RESULT", "")
    _forge(mosquitto, f"cmnd/{topic}/Sleep", "0", retain=False)  # the user, once
    code, out, _ = stove("-c", str(config), "check", "--json")
    assert code == 0 and json.loads(out)["burners"][0]["speed"] == {
        "loop_sleep_ms": 0,
        "says": "its main loop does not sleep (Sleep 0): a command runs within a pass"}


@run
async def test_a_device_timed_cut_is_confirmed_even_if_it_ended_before_we_looked(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """A busy controller (ten thousand relays at once) may read the device's report of
    the cut only after the device has ended the pulse itself: the live report of the
    cut, sent after our command, confirms it; the later return to rest is the pulse
    the command asked for (failed before: "still reports the relay released")."""
    sim = mqtt_sim(block("tasmota"))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    try:
        await relay.read(deadline=time.monotonic() + 2)
        await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=1.0)
        time.sleep(1.4)  # noqa: ASYNC251 (the loop is busy past the device's 1 s PulseTime)
        assert not sim.sim.energised
        await relay.wait_for(True, deadline=time.monotonic() + 2)
        # ... but a cut that never came is not confirmed by the same path:
        sim.sim.ignore_commands = True
        await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=1.0)
        time.sleep(0.3)  # noqa: ASYNC251 (busy, as above)
        with pytest.raises(Unconfirmed):
            await relay.wait_for(True, deadline=time.monotonic() + 1)
    finally:
        await stove.close()


class _Spy:
    """A client that records every message on ``topic`` (a filter) as it arrives."""

    def __init__(self, broker: Mosquitto, topic: str) -> None:
        self.heard: list[tuple[str, str]] = []
        ready = queue.Queue[bool]()
        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.on_subscribe = lambda *_: ready.put(True)
        self._client.on_message = lambda _c, _u, m: self.heard.append(
            (m.topic, m.payload.decode()))
        self._client.connect(broker.host, broker.port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()
        ready.get(timeout=5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.mark.parametrize("wiring", [NC, NO])
@run
async def test_a_pulse_the_device_reported_ended_needs_no_restore_command(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], wiring: Wiring
) -> None:
    """Issue 17 (scale): the device's own live report, after our cut, that its timed
    pulse ended (the relay back at rest) confirms the restore: no restore command is
    sent (a third of a shut-off's messages), and the loop is closed, confirmed."""
    sim = mqtt_sim(block("tasmota"), wiring=wiring)
    stove, config = stove_for(mosquitto, {"front": sim.relay}, wiring)
    plan = config.stove.burners["front"].plan()
    assert plan.device_timed
    relay = stove.relays["front"]
    assert isinstance(relay, MqttRelay)
    spy = _Spy(mosquitto, f"cmnd/{sim.relay['topic']}/#")
    try:
        (outcome,) = await stove.shut_off(["front"])
        await asyncio.sleep(0.3)  # anything still on its way to the device
    finally:
        spy.close()
        await stove.close()
    assert outcome.ok and outcome.restored, outcome.message
    assert_out_for_good_and_restored(sim, wiring)
    cut = [(m.topic, m.payload) for m in relay.dialect.switch(plan.cut, plan.seconds)]
    assert spy.heard == cut, "only the cut is sent (no restore, no state request)"


@run
async def test_a_pulse_end_is_not_taken_from_a_snapshot_or_a_report_since_contradicted(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What may NOT stand for the device's report that its pulse ended: a periodic
    ``tele/STATE`` snapshot (it may have left before the device ran our command), an
    end reported and then contradicted (the relay reported energised again), or an end
    reported long before the restore is asked for (an unlock much later: the report is
    old news by then). The restore command is sent and confirmed as before."""
    monkeypatch.setattr(mqtt_relay, "PULSE_END_S", 0.2)
    sim = mqtt_sim(block("tasmota"))
    stove, _ = stove_for(mosquitto, {"front": sim.relay})
    relay = stove.relays["front"]
    topic = sim.relay["topic"]
    restore = (f"cmnd/{topic}/POWER1", "OFF")
    spy = _Spy(mosquitto, f"cmnd/{topic}/#")

    async def restored_by_its_command() -> None:
        await relay.switch(False, deadline=time.monotonic() + 2)
        await relay.wait_for(False, deadline=time.monotonic() + 2)
        assert await until(lambda: restore in spy.heard, 1), spy.heard

    try:
        # a snapshot saying "released" while the device still holds its pulse
        await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=5.0)
        await relay.wait_for(True, deadline=time.monotonic() + 2)
        _forge(mosquitto, f"tele/{topic}/STATE", '{"POWER1": "OFF"}', retain=False)
        await asyncio.sleep(0.2)
        await restored_by_its_command()
        assert not sim.sim.energised
        # an end reported, then the relay reported energised again
        spy.heard.clear()
        await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=0.2)
        await relay.wait_for(True, deadline=time.monotonic() + 2)
        assert await until(lambda: not sim.sim.energised, 2)
        await asyncio.sleep(0.2)
        sim.sim.pulse_time = 0
        _forge(mosquitto, f"cmnd/{topic}/POWER1", "ON", retain=False)  # someone else's ON
        assert await until(lambda: relay.energised is True, 2)
        await restored_by_its_command()
        assert not sim.sim.energised
        # an end reported, and the restore asked for long after it
        spy.heard.clear()
        await relay.switch(True, deadline=time.monotonic() + 2, pulse_seconds=0.2)
        await relay.wait_for(True, deadline=time.monotonic() + 2)
        assert await until(lambda: relay.energised is False, 2)
        await asyncio.sleep(0.8)  # > the pulse + 2 x PULSE_END_S after its confirmation
        await restored_by_its_command()
    finally:
        spy.close()
        await stove.close()


@run
async def test_a_simulated_tasmota_speaks_qos_0_as_pubsubclient_does(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]
) -> None:
    """Tasmota's MQTT client (PubSubClient) publishes at QoS 0 only (and subscribes at
    QoS 0): its reports reach even a QoS 1 subscriber at QoS 0. The simulator used
    QoS 1 both ways, which at 10,000 relays on one connection put every command
    through the broker's in-flight window (20 unacknowledged) and a PUBACK each."""
    sim = mqtt_sim(block("tasmota"))
    topic = sim.relay["topic"]
    qos: list[int] = []
    ready = queue.Queue[bool]()
    spy = paho.Client(CallbackAPIVersion.VERSION2)
    spy.on_subscribe = lambda *_: ready.put(True)
    spy.on_message = lambda _c, _u, m: qos.append(m.qos)
    spy.connect(mosquitto.host, mosquitto.port)
    spy.subscribe(f"stat/{topic}/#", qos=1)
    spy.loop_start()
    try:
        ready.get(timeout=5)
        _forge(mosquitto, f"cmnd/{topic}/POWER1", "", retain=False)  # asks for the state
        assert await until(lambda: len(qos) >= 2, 2), "no state report"
        assert set(qos) == {0}
    finally:
        spy.disconnect()
        spy.loop_stop()
