"""Daemon command -> relay contact over MQTT, for every dialect, against two baselines.

A private mosquitto (``gasstove.sim.broker.Mosquitto``, ``set_tcp_nodelay
true``), one real ``stove serve`` subprocess with one burner per dialect
(``normally_closed``), and one simulated relay per dialect
(``gasstove.sim.mqtt_relays``: each firmware as unkind as its docs and sources
say). Tasmota twice: as shipped (its main loop sleeps ``Sleep 50``) and after the
one-time ``Sleep 0`` README's Tasmota section offers (sent to the device over
MQTT before the rounds, as a user types it in its console). The clock stops
when the simulated relay's coil changes (its ``on_change``), not at any
message. Round by round, every dialect and every kind of round take turns, so
all see the same machine load:

* ``bare``: a paho client publishes (QoS 1) to a topic another client of this
  process subscribes to: one broker hop, the floor for anything over MQTT;
* ``firmware``: the same client publishes the firmware's own plain ON straight
  to the relay (Tasmota ``POWER1 ON``): one hop plus whatever the firmware
  takes (Tasmota: up to one ``Sleep`` until its loop reads the message). No
  controller can be faster than this;
* ``lock``: ``{"action": "lock"}`` on ``<base>/<burner>/set``; the daemon parses
  it and sends the relay command (with the device-timed settings it uses for a
  cut: Tasmota's PulseTime travels in the same message): two broker hops, the
  daemon and the firmware;
* ``off``: a shut-off (device-timed pulse where the firmware has one), fewer
  rounds since each waits for its pulse and restore.

Ratios are of p99s from the same run: to the dialect's own hops (taken between
its rounds) and to all hops of the run (steadier: seven times as many). One more
line shows mosquitto's default ``set_tcp_nodelay false`` (Tasmota only), where
the broker holds a small packet until the daemon's TCP ACK of the previous one
(Nagle + delayed ACK).

Run alone: ``.venv/bin/python bench/bench_mqtt.py [rounds]``; ``BENCH_DAEMON_TREE=<checkout>``
runs the daemon of another checkout (a baseline) against the same simulators.
"""

from __future__ import annotations

import os
import queue
import secrets
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

from gasstove.domain.dialects import Dialect, Tasmota
from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.broker import Mosquitto
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import sim_for

#: Burner name -> (dialect, one-time device settings sent before the rounds).
CASES: dict[str, tuple[str, dict[str, str]]] = {
    "tasmota": ("tasmota", {}),  # as shipped: Sleep 50
    "tasmota_sleep0": ("tasmota", {"Sleep": "0"}),
    "shelly": ("shelly", {}),
    "shelly_rpc": ("shelly_rpc", {}),
    "zigbee2mqtt": ("zigbee2mqtt", {}),
    "esphome": ("esphome", {}),
    "generic": ("generic", {}),
}
DIALECTS = tuple(CASES)
LABELS = {"tasmota": "tasmota (Sleep 50, as shipped)", "tasmota_sleep0": "tasmota (Sleep 0)"}


def _relay(case: str, tag: str) -> dict[str, Any]:
    """A relay block on topics of its own (no auto_off: a lock must hold)."""
    dialect = CASES[case][0]
    if dialect == "generic":
        return {"dialect": "generic", "command_topic": f"g{tag}/set",
                "state_topic": f"g{tag}/state", "get_topic": f"g{tag}/get",
                "availability_topic": f"g{tag}/online"}
    return {"dialect": dialect, "topic": f"{case}-{tag}"}


def _plain_on(dialect: Dialect) -> list[tuple[str, str]]:
    """The firmware's own plain ON, as anyone would send it by hand."""
    if isinstance(dialect, Tasmota):
        dialect = Tasmota(dialect.topic, dialect.channel, timer=False)
    return [(m.topic, m.payload) for m in dialect._set(True)]


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


def run(rounds: int, off_rounds: int, *, tcp_nodelay: bool = True,
        dialects: tuple[str, ...] = DIALECTS) -> list[tuple[str, str]]:
    tag = secrets.token_hex(3)
    base, ping = f"bench{tag}/kitchen", f"bench{tag}/ping"
    changes: dict[str, queue.Queue[tuple[float, str]]] = {d: queue.Queue() for d in dialects}
    pongs: queue.Queue[float] = queue.Queue()
    results: queue.Queue[float] = queue.Queue()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp), tcp_nodelay=tcp_nodelay)
        broker.start()
        relays = {d: _relay(d, tag) for d in dialects}
        configs = {d: MqttRelayConfig.model_validate({"type": "mqtt", **block})
                   for d, block in relays.items()}
        sims = {}
        for d in dialects:
            sims[d] = sim_for(configs[d], Burner(d), Wiring.NORMALLY_CLOSED, host=broker.host,
                              port=broker.port,
                              on_change=lambda what, d=d: changes[d].put((time.perf_counter(),
                                                                          what)))
            sims[d].start()
        burners = "".join(
            f"    {d}:\n      cut_seconds: 1s\n      relay: {{type: mqtt, "
            + ", ".join(f"{k}: '{v}'" for k, v in block.items()) + "}\n"
            for d, block in relays.items())
        config = Path(tmp) / "gasstove.yaml"
        config.write_text(
            f"stove:\n  name: kitchen\n  burners:\n{burners}"
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
        env, tree = dict(os.environ), os.environ.get("BENCH_DAEMON_TREE")
        if tree:  # the daemon of another checkout (`-m` looks in the working folder first)
            env["PYTHONPATH"] = tree
        log = None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL
        serve = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                                 stderr=log, env=env, cwd=tree)
        try:
            online.get(timeout=20)

            def moved(d: str, want: str, start: float) -> float:
                when, what = changes[d].get(timeout=10)
                if want not in what:
                    raise RuntimeError(f"{d}: expected the relay {want}, it was {what}")
                return (when - start) * 1000

            def daemon_round(d: str, action: str, want: str) -> float:
                start = time.perf_counter()
                pub.publish(f"{base}/{d}/set", f'{{"action": "{action}"}}', qos=1)
                took = moved(d, want, start)
                results.get(timeout=10)  # the daemon answered: it is idle again
                return took

            def firmware_round(d: str) -> float:
                start = time.perf_counter()
                for topic, payload in _plain_on(sims[d].dialect):
                    pub.publish(topic, payload, qos=1)
                took = moved(d, "energised", start)
                daemon_round(d, "unlock", "released")  # back to rest, as the daemon knows it
                return took

            def bare_round() -> float:
                start = time.perf_counter()
                pub.publish(ping, "x", qos=1)
                return (pongs.get(timeout=10) - start) * 1000

            for d in dialects:  # one-time device settings, as a user sends them
                for command, value in CASES[d][1].items():
                    pub.publish(Tasmota.from_config(configs[d]).cmnd(command), value, qos=1)
            for d in dialects:  # warm-up: the daemon's first command subscribes the relay
                daemon_round(d, "lock", "energised")
                daemon_round(d, "unlock", "released")
            bare: dict[str, list[float]] = {d: [] for d in dialects}
            firmware: dict[str, list[float]] = {d: [] for d in dialects}
            lock: dict[str, list[float]] = {d: [] for d in dialects}
            for _ in range(rounds):
                for d in dialects:
                    bare[d].append(bare_round())
                    firmware[d].append(firmware_round(d))
                    bare[d].append(bare_round())
                    lock[d].append(daemon_round(d, "lock", "energised"))
                    daemon_round(d, "unlock", "released")
            off: dict[str, list[float]] = {d: [] for d in dialects}
            for _ in range(off_rounds):
                for d in dialects:
                    off[d].append(daemon_round(d, "off", "energised"))
                    moved(d, "released", 0)  # the pulse ended (device or daemon)
            pooled = [hop for d in dialects for hop in bare[d]]
            if tcp_nodelay and len(dialects) > 1:
                rows.append(("MQTT, every dialect's rounds: bare publish -> subscriber",
                             f"{summary(pooled)} (n={len(pooled)})"))
            for d in dialects:
                rows += _rows(LABELS.get(d, d), bare[d], firmware[d], lock[d], off[d],
                              tcp_nodelay, percentile(pooled, 0.99))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(10)
            for client in (watcher, pong, pub):
                client.loop_stop()
                client.disconnect()
            for sim in sims.values():
                sim.stop()
            broker.stop()
    return rows


def _rows(name: str, bare: list[float], firmware: list[float], lock: list[float],
          off: list[float], tcp_nodelay: bool, pooled: float) -> list[tuple[str, str]]:
    """Ratios of p99s: to this dialect's own hops (taken between its rounds) and, steadier,
    to every dialect's hops of the run (``pooled``)."""
    hop, floor = percentile(bare, 0.99), percentile(firmware, 0.99)
    if not tcp_nodelay:
        return [(f"MQTT {name} lock -> contact, set_tcp_nodelay false",
                 f"{summary(lock)} (n={len(lock)}), bare hop {summary(bare)}")]
    rows = [
        (f"MQTT {name}: bare publish -> subscriber (1 hop)", f"{summary(bare)} (n={len(bare)})"),
        (f"MQTT {name}: plain ON straight to the firmware",
         f"{summary(firmware)} (n={len(firmware)}), p99 {floor / hop:.1f}x the hop"),
        (f"MQTT {name}: daemon lock -> relay contact",
         f"{summary(lock)} (n={len(lock)}), p99 {percentile(lock, 0.99) / hop:.1f}x "
         f"the hop / {percentile(lock, 0.99) / pooled:.1f}x all hops (target <= 3), "
         f"{percentile(lock, 0.99) / floor:.2f}x the firmware"),
    ]
    if off:
        rows.append((f"MQTT {name}: daemon off -> relay contact",
                     f"{summary(off)} (n={len(off)}), p99 {percentile(off, 0.99) / hop:.1f}x "
                     f"the hop / {percentile(off, 0.99) / pooled:.1f}x all hops, "
                     f"{percentile(off, 0.99) / floor:.2f}x the firmware"))
    return rows


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    for name, value in [*run(n, max(3, n // 10)),
                        *run(max(5, n // 4), 0, tcp_nodelay=False, dialects=("tasmota",))]:
        print(f"{name:<66} {value}")
