"""The daemon on a real mosquitto: commands in, results and retained state out, discovery, LWT."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.adapters.config_file import parse_config
from gasstove.daemon.clock import Clock
from gasstove.daemon.run import serve
from gasstove.daemon.service import Daemon

from .fixtures_daemon import FakeClock
from .fixtures_mqtt import Mosquitto, MqttSim


class Watcher:
    """A plain MQTT client that records what it sees and can publish."""

    def __init__(self, broker: Mosquitto, *topics: str,
                 auth: tuple[str, str] | None = None) -> None:
        self.messages: list[tuple[str, Any, bool]] = []
        self._seen = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: [c.subscribe(t, 1) for t in topics]
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            payload: Any = json.loads(msg.payload)
        except (ValueError, RecursionError):  # (hostile payloads: test_hostile_input)
            payload = msg.payload.decode()
        with self._seen:
            self.messages.append((msg.topic, payload, bool(msg.retain)))
            self._seen.notify_all()

    def wait(self, match: Callable[[str, Any], bool], timeout: float = 10, *,
             after: int = 0) -> Any:
        """The newest message matching, among those from index ``after`` on."""
        with self._seen:
            for _ in range(int(timeout * 20)):
                for topic, payload, _ in reversed(self.messages[after:]):
                    if match(topic, payload):
                        return payload
                self._seen.wait(0.05)
        raise AssertionError(f"nothing matched in {[m[0] for m in self.messages][-20:]}")

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def setup(tmp_path: Path, mosquitto: Mosquitto,
          mqtt_sim: Callable[..., MqttSim]) -> Iterator[tuple[str, str, MqttSim, Watcher, Path]]:
    tag = secrets.token_hex(3)
    base, prefix = f"test{tag}/kitchen", f"ha{tag}"
    sim = mqtt_sim({"dialect": "tasmota", "topic": f"relay{tag}"})
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"""\
stove:
  name: kitchen
  deadline: 2s
  burners:
    left:
      cut_seconds: 1s
      relay: {{type: mqtt, dialect: tasmota, topic: relay{tag}}}
mqtt: {{host: {mosquitto.host}, port: {mosquitto.port}}}
daemon:
  database: {tmp_path}/g.db
  socket: {tmp_path}/d.sock
  mqtt_topic: {base}
  discovery_prefix: {prefix}
""")
    watcher = Watcher(mosquitto, f"{base}/#", f"{prefix}/#")
    yield base, prefix, sim, watcher, config
    watcher.close()


def run_daemon(config: Path, body: Callable[[Daemon], None], clock: Clock | None = None,
               on_loop: Callable[[asyncio.AbstractEventLoop], None] | None = None) -> None:
    """Run `serve` in-process while ``body`` (blocking, in a thread) talks MQTT to it."""
    parsed = parse_config(config.read_text())

    async def main() -> None:
        if on_loop is not None:
            on_loop(asyncio.get_running_loop())
        stop = asyncio.Event()
        ready: asyncio.Future[Daemon] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(parsed, stop=stop, ready=ready.set_result, clock=clock))
        daemon = await asyncio.wait_for(ready, 10)
        try:
            await asyncio.to_thread(body, daemon)
        finally:
            stop.set()
            await task

    asyncio.run(main())


def test_commands_results_state_and_discovery(setup: tuple[str, str, MqttSim, Watcher, Path]) -> None:
    base, prefix, sim, watcher, config = setup

    def body(_: Daemon) -> None:
        assert watcher.wait(lambda t, p: t == f"{base}/availability") == "online"
        button = watcher.wait(lambda t, p: t.endswith("/left_shut_off/config"))
        assert button["command_topic"] == f"{base}/left/set"
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        assert state["status"] == "ready" and state["timer_due"] is None

        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "id": "a1"}))
        result = watcher.wait(lambda t, p: t == f"{base}/result" and p["request"]["id"] == "a1")
        assert result["ok"] and result["burners"][0]["restored"] is True
        assert not sim.burner.lit

        watcher.publish(f"{base}/set", json.dumps({"action": "off", "in": "20m", "id": "a2"}))
        watcher.wait(lambda t, p: t == f"{base}/result" and p["request"]["id"] == "a2")
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["timer_due"])
        assert state["timer_due"].endswith("+00:00")

        watcher.publish(f"{base}/set", "{not json")
        bad = watcher.wait(lambda t, p: t == f"{base}/result" and not p["ok"])
        assert bad == {"ok": False, "exit": 2, "error": f"command on {base}/set is not a JSON object",
                       "request": None}

        def lock_configs() -> int:
            return sum(t.endswith("/left_lock/config") for t, _, _ in watcher.messages)

        before = lock_configs()
        watcher.publish(f"{prefix}/status", "online")  # Home Assistant restarted
        watcher.wait(lambda t, p: lock_configs() > before)

    run_daemon(config, body)
    assert watcher.wait(lambda t, p: t == f"{base}/availability") == "offline"


def test_a_state_that_did_not_change_is_not_published_again(
        setup: tuple[str, str, MqttSim, Watcher, Path]) -> None:
    """Every periodic poll reads every relay: 10,000 unchanged states a minute are not news."""
    base, _, _, watcher, config = setup

    def states() -> int:
        return sum(t == f"{base}/left/state" for t, _, _ in watcher.messages)

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        time.sleep(0.5)  # the announcement and the first poll have settled
        before = states()
        watcher.publish(f"{base}/set", json.dumps({"action": "status", "id": "s1"}))
        watcher.wait(lambda t, p: t == f"{base}/result" and p["request"]["id"] == "s1")
        time.sleep(0.5)
        assert states() == before
        watcher.publish(f"{base}/set", json.dumps({"action": "lock", "id": "l1"}))
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["locked"], after=len(
            watcher.messages))

    run_daemon(config, body)


def test_a_retained_command_is_never_acted_on(setup: tuple[str, str, MqttSim, Watcher, Path]) -> None:
    base, _, sim, watcher, config = setup
    watcher.publish(f"{base}/left/set", json.dumps({"action": "lock"}), retain=True)

    def body(daemon: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        time.sleep(0.3)
        assert not daemon.stove.locked("left") and sim.burner.lit
        result = watcher.wait(lambda t, p: t == f"{base}/result")
        assert result["exit"] == 2 and "retained" in result["error"]

    try:
        run_daemon(config, body)
    finally:
        watcher.publish(f"{base}/left/set", "", retain=True)


def test_the_broker_says_offline_for_a_daemon_killed_with_9(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    base, _, _, watcher, config = setup
    proc = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                            stderr=subprocess.DEVNULL)
    try:
        assert watcher.wait(lambda t, p: t == f"{base}/availability" and p == "online") == "online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        assert watcher.wait(lambda t, p: t == f"{base}/availability" and p == "offline",
                            timeout=5) == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_dead_relay_raises_the_alert_and_the_problem_then_a_good_cut_clears_it(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    base, _, sim, watcher, config = setup
    alerts = config.parent / "alerts.jsonl"
    config.write_text(config.read_text() + (
        f"alerts:\n  on_failure: [{sys.executable!r}, -c, "
        f"\"import sys; open({str(alerts)!r}, 'a').write(sys.stdin.read())\"]\n"))

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        sim.sim.ignore_commands = True  # the relay stops switching: the cut is never confirmed
        started = time.monotonic()
        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "source": "ha"}))
        alert = watcher.wait(lambda t, p: t == f"{base}/alert")
        assert time.monotonic() - started < 2 + 1, "within the deadline plus 1 s"
        assert alert["burner"] == "left" and alert["source"] == "ha"
        assert alert["result"] == "unconfirmed", "the command reached it: it may have acted"
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["problem"])
        assert "NOT confirmed" in state["problem_reason"]
        sim.sim.ignore_commands = False
        mark = len(watcher.messages)
        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "id": "again"}))
        watcher.wait(lambda t, p: t == f"{base}/result" and p["request"]["id"] == "again")
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["problem"] is False, after=mark)

    run_daemon(config, body)
    (ran,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert ran["burner"] == "left"
    from gasstove.adapters.history import read_events

    rows = read_events(config.parent / "g.db")
    cuts = [(r.source, r.result) for r in rows if r.action == "cut"]
    assert cuts == [("mqtt", "confirmed"), ("ha", "unconfirmed")]


def test_a_relay_going_offline_and_back_shows_within_a_second(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    """The device's own LWT reaches the burner's state at once, not at the next poll (60 s)."""
    base, _, sim, watcher, config = setup

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        time.sleep(0.3)  # the start-up poll is over: what follows is the LWT's doing
        mark, started = len(watcher.messages), time.monotonic()
        sim.sim.kill()  # power lost: the broker publishes the relay's will
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and not p["reachable"],
                             timeout=5, after=mark)
        assert time.monotonic() - started < 1, "offline shown within a second"
        assert state["status"] == "unreachable"
        mark, started = len(watcher.messages), time.monotonic()
        sim.sim.start()  # power back: "Online", then its state
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"],
                             timeout=5, after=mark)
        assert time.monotonic() - started < 1, "back shown within a second"

    run_daemon(config, body)
    from gasstove.adapters.history import read_events

    rows = read_events(config.parent / "g.db")
    assert [(r.action, r.source) for r in reversed(rows) if r.action.startswith("relay_")] == [
        ("relay_unreachable", "mqtt"), ("relay_back", "mqtt")]


def test_a_press_while_the_relay_is_offline_is_an_alert_not_a_silence(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    base, _, sim, watcher, config = setup

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        mark = len(watcher.messages)
        sim.sim.kill()
        watcher.wait(lambda t, p: t == f"{base}/left/state" and not p["reachable"], after=mark)
        started = time.monotonic()
        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "source": "ha"}))
        alert = watcher.wait(lambda t, p: t == f"{base}/alert")
        assert time.monotonic() - started < 2, "within the deadline"
        assert alert["result"] == "failed" and "offline" in alert["reason"]
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["problem"])
        assert state["status"] == "unreachable"

    run_daemon(config, body)


def test_the_state_shows_the_cut_while_it_happens(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    base, _, _, watcher, config = setup

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        mark = len(watcher.messages)
        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "id": "c1"}))
        watcher.wait(lambda t, p: t == f"{base}/result" and p["request"]["id"] == "c1")
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["status"] == "ready",
                     after=mark)
        statuses = [p["status"] for t, p, _ in watcher.messages[mark:] if t == f"{base}/left/state"]
        assert "cutting" in statuses and "left_cutting" not in statuses, statuses
        assert statuses[-1] == "ready"

    run_daemon(config, body)


def test_retained_configs_and_states_of_a_removed_burner_are_emptied_at_start(
    setup: tuple[str, str, MqttSim, Watcher, Path], mosquitto: Mosquitto,
) -> None:
    """A burner removed (or renamed) must not stay in Home Assistant as a usable-looking ghost."""
    base, prefix, _, watcher, config = setup
    ghosts = [f"{prefix}/button/gasstove_kitchen/middle_shut_off/config",
              f"{prefix}/binary_sensor/gasstove_kitchen/left_problem/config",  # an older key
              f"{base}/middle/state"]
    other = f"{prefix}/button/another_node/middle_shut_off/config"
    for topic in (*ghosts, other):
        watcher.publish(topic, json.dumps({"name": "ghost"}), retain=True)

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        for topic in ghosts:
            watcher.wait(lambda t, p, topic=topic: t == topic and p == "")
        watcher.wait(lambda t, p: t.endswith("/left_relay_connection/config"))  # the last

    try:
        run_daemon(config, body)
        fresh = Watcher(mosquitto, f"{prefix}/#")
        try:
            fresh.wait(lambda t, p: t == other, timeout=2)  # not ours: left alone
            kept = f"{prefix}/button/gasstove_kitchen/left_shut_off/config"
            fresh.wait(lambda t, p: t == kept, timeout=2)
            assert not {t for t, p, _ in fresh.messages} & set(ghosts)
        finally:
            fresh.close()
    finally:
        watcher.publish(other, "", retain=True)


def test_the_minutes_left_count_down_and_a_cancel_clears_them(
    setup: tuple[str, str, MqttSim, Watcher, Path],
) -> None:
    """What Home Assistant's "shut off in" number shows: the daemon's minutes left."""
    base, _, _, watcher, config = setup
    config.write_text(config.read_text() + "  poll_interval: 1h\n")  # no poll refreshes it
    clock = FakeClock()
    loop: list[asyncio.AbstractEventLoop] = []

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "in": "3m"}))
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["timer_minutes"])
        assert state["timer_minutes"] == 3
        asyncio.run_coroutine_threadsafe(clock.advance(61), loop[0]).result(10)
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["timer_minutes"] == 2,
                     timeout=3)
        watcher.publish(f"{base}/left/set", json.dumps({"action": "cancel", "source": "ha"}))
        state = watcher.wait(lambda t, p: t == f"{base}/left/state" and p["timer_due"] is None)
        assert state["timer_minutes"] is None

    run_daemon(config, body, clock=clock, on_loop=loop.append)
