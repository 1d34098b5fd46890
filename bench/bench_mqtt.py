"""Daemon command -> relay contact change over MQTT, against a bare publish -> subscriber hop.

A private mosquitto (``gasstove.sim.broker.Mosquitto``), a real ``stove serve``
subprocess, and a simulated Tasmota relay (``gasstove.sim.mqtt_relays``) wired
to a burner model. The clock stops when the simulated relay's coil changes
(its ``on_change`` callback), not at our own command or echo. Rounds of each
kind are alternated so every kind sees the same machine load:

* ``bare``: a paho client publishes (QoS 1) to a topic another client of this
  process subscribes to: one broker hop, the floor for anything over MQTT.
* ``lock`` / ``unlock``: ``{"action": "lock"}`` on ``<base>/left/set``; the
  daemon parses it, publishes the relay command, and the relay switches: two
  broker hops plus the daemon.
* ``off``: ``{"action": "off"}``: the daemon first reads the relay (a state
  request and its answer: two more hops) so that a locked burner is not
  silently unlocked by the pulse's restore, then cuts.
* the same bare hop and lock with the ``mosquitto_pub`` command-line tool as
  publisher (process start included on both sides).

The private broker runs with ``set_tcp_nodelay true`` (README: recommended);
one more line shows mosquitto's default, where the broker holds the relay
command until the daemon's TCP ACK of the previous packet (Nagle + delayed ACK).

Run alone: ``.venv/bin/python bench/bench_mqtt.py [rounds]``.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.broker import Mosquitto
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import TasmotaSim

BIN = Path(sys.executable).parent
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"


def _client(broker: Mosquitto, on_message: Callable[[paho.MQTTMessage], None] | None = None,
            *topics: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(3)}")
    subscribed = queue.Queue[bool]()
    if on_message is not None:
        client.on_message = lambda _c, _u, msg: on_message(msg)

    def connected(c: paho.Client, *_: Any) -> None:
        for topic in topics:
            c.subscribe(topic, qos=1)
        subscribed.put(True)

    client.on_connect = connected
    client.connect(broker.host, broker.port)
    client.loop_start()
    subscribed.get(timeout=5)
    time.sleep(0.1)  # SUBACKs
    return client


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):5.1f} ms, p99 {percentile(values, 0.99):5.1f} ms"


def run(rounds: int, off_rounds: int, *, tcp_nodelay: bool = True) -> list[tuple[str, str]]:
    tag = secrets.token_hex(3)
    base, relay_topic, ping = f"bench{tag}/kitchen", f"relay{tag}", f"bench{tag}/ping"
    changes: queue.Queue[tuple[float, str]] = queue.Queue()
    pongs: queue.Queue[float] = queue.Queue()
    results: queue.Queue[float] = queue.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp), tcp_nodelay=tcp_nodelay)
        broker.start()
        sim = TasmotaSim(MqttRelayConfig.model_validate(
            {"type": "mqtt", "dialect": "tasmota", "topic": relay_topic}),
            Burner("left"), Wiring.NORMALLY_CLOSED, host=broker.host, port=broker.port,
            on_change=lambda what: changes.put((time.perf_counter(), what)))
        sim.start()
        config = Path(tmp) / "gasstove.yaml"
        config.write_text(
            "stove:\n  name: kitchen\n  burners:\n    left:\n      cut_seconds: 1s\n"
            f"      relay: {{type: mqtt, dialect: tasmota, topic: {relay_topic}}}\n"
            f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
            f"daemon:\n  socket: {tmp}/d.sock\n  database: {tmp}/g.db\n"
            f"  mqtt_topic: {base}\n  discovery_prefix: null\n")
        online: queue.Queue[bool] = queue.Queue()

        def daemon_message(msg: paho.MQTTMessage) -> None:
            if msg.topic.endswith("/availability") and msg.payload == b"online":
                online.put(True)
            elif msg.topic.endswith("/result"):
                results.put(time.perf_counter())

        watcher = _client(broker, daemon_message, f"{base}/availability", f"{base}/result")
        pong = _client(broker, lambda _m: pongs.put(time.perf_counter()), ping)
        pub = _client(broker)
        serve = subprocess.Popen([str(BIN / "stove"), "-c", str(config), "serve"],
                                 stderr=subprocess.DEVNULL)
        try:
            online.get(timeout=20)
            command = f"{base}/left/set"

            def daemon_round(payload: str, want: str, tool: bool = False) -> float:
                start = time.perf_counter()
                if tool:
                    subprocess.run([MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port),
                                    "-q", "1", "-t", command, "-m", payload], check=True)
                else:
                    pub.publish(command, payload, qos=1)
                when, what = changes.get(timeout=10)
                if want not in what:
                    raise RuntimeError(f"expected the relay {want}, it was {what}")
                results.get(timeout=10)  # the daemon answered: it is idle again
                return (when - start) * 1000

            def bare_round(tool: bool = False) -> float:
                start = time.perf_counter()
                if tool:
                    subprocess.run([MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port),
                                    "-q", "1", "-t", ping, "-m", "x"], check=True)
                else:
                    pub.publish(ping, "x", qos=1)
                return (pongs.get(timeout=10) - start) * 1000

            # warm-up: the daemon's first command subscribes the relay's topics
            daemon_round('{"action": "lock"}', "energised")
            daemon_round('{"action": "unlock"}', "released")
            bare, lock, unlock, off, tool_bare, tool_lock = [], [], [], [], [], []
            for i in range(rounds):
                bare.append(bare_round())
                lock.append(daemon_round('{"action": "lock"}', "energised"))
                bare.append(bare_round())
                unlock.append(daemon_round('{"action": "unlock"}', "released"))
                if i % 4 == 0:
                    tool_bare.append(bare_round(tool=True))
                    tool_lock.append(daemon_round('{"action": "lock"}', "energised", tool=True))
                    daemon_round('{"action": "unlock"}', "released")
            for _ in range(off_rounds):
                bare.append(bare_round())
                off.append(daemon_round('{"action": "off"}', "energised"))
                _, what = changes.get(timeout=10)  # the device's PulseTime ends the cut
                assert "released" in what, what
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(10)
            for client in (watcher, pong, pub):
                client.loop_stop()
                client.disconnect()
            sim.stop()
            broker.stop()
    p99_bare = percentile(bare, 0.99)
    if not tcp_nodelay:
        return [("MQTT daemon lock -> contact, mosquitto's default set_tcp_nodelay false",
                 f"{summary(lock)} (n={len(lock)}), bare hop {summary(bare)}")]
    rows = [
        ("MQTT bare publish -> subscriber (1 hop)", f"{summary(bare)} (n={len(bare)})"),
        ("MQTT daemon lock -> relay contact", f"{summary(lock)} (n={len(lock)}), "
         f"p99 ratio {percentile(lock, 0.99) / p99_bare:.2f} (target <= 2)"),
        ("MQTT daemon unlock -> relay contact", f"{summary(unlock)} (n={len(unlock)}), "
         f"p99 ratio {percentile(unlock, 0.99) / p99_bare:.2f}"),
        ("MQTT daemon off -> relay contact (read first)", f"{summary(off)} (n={len(off)}), "
         f"p99 ratio {percentile(off, 0.99) / p99_bare:.2f}"),
        ("mosquitto_pub -> subscriber", f"{summary(tool_bare)} (n={len(tool_bare)})"),
        ("mosquitto_pub -> daemon lock -> contact", f"{summary(tool_lock)} (n={len(tool_lock)}), "
         f"p99 ratio {percentile(tool_lock, 0.99) / percentile(tool_bare, 0.99):.2f}"),
    ]
    return rows


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for name, value in [*run(n, max(3, n // 10)), *run(n // 4, 0, tcp_nodelay=False)]:
        print(f"{name:<52} {value}")
