"""N simulated Tasmota relays on one broker, one ``stove serve`` owning them all.

The relays are a :class:`gasstove.sim.mqtt_relays.TasmotaFleet` (the firmware
logic of the single simulated relay, N of them on one paho connection, so
10,000 relays need 10,000 topics, not 10,000 sockets). The daemon is a real
``stove serve`` subprocess with one N-burner stove. Measured:

* start-up: process start to ``online`` plus the first poll of every relay
  (``daemon.poll`` reads them all at start, which also subscribes their topics);
* one MQTT command ``{"action": "off"}`` on ``<base>/set`` (every burner):
  time until the last relay's coil changed (counted at the simulated relays),
  and until the daemon's result (every cut confirmed, every loop restored);
* the daemon's RSS after that, and its CPU over an idle window of one
  ``poll_interval`` (60 s): the average includes one periodic read of every relay;
* the fleet's own lag, at start-up and during the ``off``: how late the simulated
  relays' timers ran (each relay's main-loop passes, pulses) and the most bytes
  left unread at the fleet's socket. A fleet that lags is slower than the firmware
  it simulates, and the figures above would be the bench's, not the daemon's.

The broker gets ``max_queued_messages 0`` (no limit): with mosquitto's default
of 1,000 queued QoS 1 messages per client, the daemon's connection drops state
reports when more than ~1,000 relays answer at once (see README "Scaling").

Run alone: ``.venv/bin/python bench/bench_scale.py [N ...]``; with ``BENCH_PYSPY=out.txt``
(and py-spy on the PATH) the daemon is sampled for 25 s from the ``off``;
``BENCH_DAEMON_TREE=<checkout>`` runs another checkout's daemon (a baseline).
"""

from __future__ import annotations

import array
import collections
import fcntl
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.broker import Mosquitto
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import TasmotaFleet

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory now, or its high water (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


#: The daemon under tracemalloc: on SIGUSR1 it appends the largest live allocations
#: (by line, and by the gasstove frame nearest them), its current and peak traced bytes
#: and the commonest live objects (those the collector tracks) by type.
_TRACED = """
import collections, gc, runpy, signal, sys, tracemalloc
tracemalloc.start(12)
def dump(*_):
    kinds = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    snap = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    with open({path!r}, "a") as out:
        print(f"traced {{current / 2**20:.1f}} MB, peak {{peak / 2**20:.1f}} MB", file=out)
        for stat in snap.statistics("lineno")[:25]:
            print("  ", stat, file=out)
        by_ours = {{}}
        for trace in snap.traces:
            frame = next((f for f in reversed(trace.traceback) if "/gasstove/" in f.filename),
                         trace.traceback[-1])
            key = f"{{frame.filename.split('site-packages/')[-1]}}:{{frame.lineno}}"
            by_ours[key] = by_ours.get(key, 0) + trace.size
        print("  by the nearest gasstove line:", file=out)
        for key, size in sorted(by_ours.items(), key=lambda kv: -kv[1])[:25]:
            print(f"    {{size / 2**20:7.1f}} MB {{key}}", file=out)
        print("  objects by type:", file=out)
        for kind, n in kinds.most_common(25):
            print(f"    {{n:8}} {{kind}}", file=out)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["gasstove", *{argv!r}]
runpy.run_module("gasstove", run_name="__main__")
"""


class _Backlog:
    """Samples the bytes the fleet's socket holds unread (every 20 ms) while it runs:
    with the relays' timers' lateness it says whether the simulator keeps up."""

    def __init__(self, fleet: TasmotaFleet) -> None:
        self.fleet, self.peak, self._stop = fleet, 0, threading.Event()
        fleet.scheduler.lateness()  # from now on
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            if (sock := self.fleet._client.socket()) is not None:
                unread = array.array("i", [0])
                fcntl.ioctl(sock.fileno(), termios.FIONREAD, unread)
                self.peak = max(self.peak, unread[0] + sock.pending())  # (+ read ahead)

    def row(self, count: int, when: str) -> tuple[str, str]:
        self._stop.set()
        self._thread.join()
        late = sorted(self.fleet.scheduler.lateness()) or [0.0]
        return (f"{count} relays: the fleet's own lag ({when})",
                f"relay timers late p50 {late[len(late) // 2] * 1000:.0f} / p99 "
                f"{late[int(len(late) * 0.99)] * 1000:.0f} / max {late[-1] * 1000:.0f} ms, "
                f"unread at its socket max {self.peak / 1024:.0f} KB")


class _Commands:
    """Counts the commands the fleet receives from now on, by command (an empty one is
    a query: ``POWER1 ?`` is a relay's state request when its report is slow to come)."""

    def __init__(self, fleet: TasmotaFleet) -> None:
        self.heard: collections.Counter[str] = collections.Counter()
        receive = fleet._client.on_message

        def counted(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
            self.heard[f"{msg.topic.rpartition('/')[2]} {msg.payload.decode()[:30] or '?'}"] += 1
            receive(client, userdata, msg)

        fleet._client.on_message = counted

    def row(self, count: int) -> tuple[str, str]:
        return (f"{count} relays: commands the fleet received (off)",
                ", ".join(f"{n} x {what!r}" for what, n in self.heard.most_common(4)))


def _dump_memory(pid: int, when: str) -> None:
    if path := os.environ.get("BENCH_SMAPS"):  # the daemon's memory map, region by region
        with open(path, "a") as out:
            print(f"== {when}", file=out)
            out.write(Path(f"/proc/{pid}/smaps").read_text())
    if path := os.environ.get("BENCH_TRACEMALLOC"):
        with open(path, "a") as out:
            print(f"{when}: RSS {_rss_mb(pid):.0f} MB", file=out)
        os.kill(pid, signal.SIGUSR1)
        time.sleep(30)  # (a snapshot of ten thousand relays' objects takes a while)


def run_one(count: int, idle_s: float, queued: int = 0) -> list[tuple[str, str]]:
    tag = secrets.token_hex(2)
    base = f"scale{tag}/big"
    cut_at: list[float] = []
    lock = threading.Lock()
    all_cut = threading.Event()

    def changed(_topic: str, what: str) -> None:
        if "energised" in what:
            with lock:
                cut_at.append(time.perf_counter())
                if len(cut_at) == count:
                    all_cut.set()

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp), extra=f"max_queued_messages {queued}\n")
        broker.start()
        relays = [(MqttRelayConfig.model_validate(
            {"type": "mqtt", "dialect": "tasmota", "topic": f"s{tag}-{i}"}),
            Burner(f"b{i}"), Wiring.NORMALLY_CLOSED) for i in range(count)]
        fleet = TasmotaFleet(relays, host=broker.host, port=broker.port, on_change=changed)
        fleet.start()
        # The default cut (3 s): ten thousand burners then fit the loader's value budget.
        burners = "".join(f"    b{i}:\n      relay: {{type: mqtt, dialect: tasmota, "
                          f"topic: s{tag}-{i}}}\n" for i in range(count))
        config = Path(tmp) / "gasstove.yaml"
        config.write_text(
            f"stove:\n  name: big\n  deadline: 60s\n  burners:\n{burners}"
            f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
            f"daemon:\n  socket: {tmp}/d.sock\n  database: {tmp}/g.db\n"
            f"  mqtt_topic: {base}\n  discovery_prefix: null\n")
        online: queue.Queue[float] = queue.Queue()
        results: queue.Queue[tuple[float, bytes]] = queue.Queue()
        watcher = paho.Client(CallbackAPIVersion.VERSION2)
        watcher.on_connect = lambda c, *_: (c.subscribe(f"{base}/availability", 1),
                                            c.subscribe(f"{base}/result", 1))

        def message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
            if msg.topic.endswith("/availability") and msg.payload == b"online":
                online.put(time.perf_counter())
            elif msg.topic.endswith("/result"):
                results.put((time.perf_counter(), msg.payload))

        watcher.on_message = message
        watcher.connect(broker.host, broker.port)
        watcher.loop_start()
        time.sleep(0.2)
        start = time.perf_counter()
        backlog = _Backlog(fleet)
        env, tree = dict(os.environ), os.environ.get("BENCH_DAEMON_TREE")
        if tree:  # the daemon of another checkout (`-m` looks in the working folder first)
            env["PYTHONPATH"] = tree
        command = ["-m", "gasstove", "-c", str(config), "serve"]
        if traced := os.environ.get("BENCH_TRACEMALLOC"):  # where the daemon's memory goes
            command = ["-c", _TRACED.format(path=traced, argv=command[2:])]
        serve = subprocess.Popen([sys.executable, *command],
                                 stderr=subprocess.PIPE, text=True, env=env, cwd=tree)
        tail: list[str] = []
        assert serve.stderr is not None
        stderr = serve.stderr

        def read_log() -> None:  # keep the last lines for an error message
            for line in stderr:
                tail[:] = [*tail[-20:], line.rstrip()]

        threading.Thread(target=read_log, daemon=True).start()
        rows: list[tuple[str, str]] = []
        try:
            try:
                up = online.get(timeout=300) - start
            except queue.Empty:
                raise RuntimeError(f"the daemon did not come online; log: {tail}") from None
            # the first poll reads every relay: wait until the daemon is quiet
            cpu = _cpu_s(serve.pid)
            while True:
                time.sleep(1)
                now = _cpu_s(serve.pid)
                if now - cpu < 0.05:
                    break
                cpu = now
            ready = time.perf_counter() - start
            _dump_memory(serve.pid, f"{count} relays, first poll done")
            rows.append((f"{count} relays: daemon start to online / first poll done",
                         f"{up:.1f} s / {ready:.1f} s, RSS {_rss_mb(serve.pid):.0f} MB (high "
                          f"water {_rss_mb(serve.pid, 'VmHWM'):.0f} MB)"))
            rows.append(backlog.row(count, "start-up"))
            if profile := os.environ.get("BENCH_PYSPY"):  # where the daemon's time goes
                subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "-r", "50", "-f",
                                  "raw", "-o", profile, "--threads", "--pid", str(serve.pid),
                                  "-d", "25"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            backlog = _Backlog(fleet)
            heard = _Commands(fleet)
            sent = time.perf_counter()
            watcher.publish(f"{base}/set", '{"action": "off"}', qos=1)
            if not all_cut.wait(300):
                raise RuntimeError(f"only {len(cut_at)} of {count} relays cut; log: {tail}")
            rss_cut = _rss_mb(serve.pid)  # near the peak: every cut in flight, in its pulse
            # (the snapshot stalls the daemon)
            _dump_memory(serve.pid, f"{count} relays, all cut, pulse in flight")
            when, payload = results.get(timeout=300)
            answer = json.loads(payload)
            failed = [b for b in answer.get("burners", []) if not b["ok"]]
            cut_ms = sorted(b["cut_ms"] for b in answer["burners"] if b.get("cut_ms") is not None)
            rows.append((f"{count} relays: one 'off' command for all, last coil changed",
                         f"{(max(cut_at) - sent) * 1000:.0f} ms (first {(min(cut_at) - sent) * 1000:.0f} "
                         f"ms); daemon's cut_ms p50 {cut_ms[len(cut_ms) // 2]} ms, max {cut_ms[-1]} ms"))
            rows.append((f"{count} relays: result (all confirmed, 3 s pulse, restored)",
                         f"{(when - sent):.1f} s, {len(failed)} failed, RSS when all were cut "
                         f"{rss_cut:.0f} MB"
                         + (f": {failed[0]['message']}" if failed else "")))
            rows.append(backlog.row(count, "off"))
            rows.append(heard.row(count))
            time.sleep(1)
            cpu = _cpu_s(serve.pid)
            time.sleep(idle_s)
            idle = (_cpu_s(serve.pid) - cpu) / idle_s * 100
            rows.append((f"{count} relays: daemon RSS / idle CPU over {idle_s:.0f} s",
                         f"{_rss_mb(serve.pid):.0f} MB / {idle:.1f} % of one core "
                         "(poll_interval 60 s)"))
            _dump_memory(serve.pid, f"{count} relays, after the run")
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(60)
            except subprocess.TimeoutExpired:
                serve.kill()
            watcher.loop_stop()
            watcher.disconnect()
            fleet.stop()
            broker.stop()
    return rows


def run(counts: tuple[int, ...], idle_s: float) -> list[tuple[str, str]]:
    return [row for count in counts for row in run_one(count, idle_s)]


if __name__ == "__main__":
    counts = tuple(int(a) for a in sys.argv[1:]) or (1000, 10000)
    for name, value in run(counts, 60):
        print(f"{name:<58} {value}")
