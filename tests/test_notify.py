"""`stove serve` under systemd: READY=1 once it serves, WATCHDOG=1 from its event loop
(none while the loop is blocked), on a $NOTIFY_SOCKET the test listens on as systemd
would; and the unit in contrib/ rated by `systemd-analyze security`."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gasstove.adapters.config_file import load_config_source
from gasstove.daemon.notify import Notifier
from gasstove.daemon.run import serve

from .fixtures_miio import SimRelay, burner_yaml

ROOT = Path(__file__).resolve().parents[1]


class Systemd:
    """The notification socket's listening end: every datagram, with when it came."""

    def __init__(self) -> None:
        self.address = f"@gasstove-test-{secrets.token_hex(6)}"  # (abstract: no path limit)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.address[1:])
        self._sock.settimeout(0.1)
        self.got: list[tuple[float, str]] = []
        self._done = False
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done:
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))

    def wait_for(self, line: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, message in self.got:
                if line in message.splitlines():
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no {line} in {timeout} s: got {[m for _, m in self.got]}")

    def pings(self, start: float, end: float) -> list[float]:
        return [at for at, m in self.got if m == "WATCHDOG=1" and start <= at <= end]

    def close(self) -> None:
        self._done = True
        self._thread.join(2)
        self._sock.close()


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    listener = Systemd()
    yield listener
    listener.close()


@pytest.fixture
def config_file(tmp_path: Path, miio_relay: Callable[..., SimRelay]) -> Path:
    config = tmp_path / "gasstove.yaml"
    config.write_text("stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n"
                      + burner_yaml("left", miio_relay("left"))
                      + f"daemon:\n  database: {tmp_path}/state/g.db\n"
                      f"  socket: {tmp_path}/state/d.sock\n")
    config.chmod(0o600)
    return config


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_serve_says_ready_once_it_answers_and_pings_the_watchdog_at_half_its_timeout(
    config_file: Path, systemd: Systemd,
) -> None:
    env = {**os.environ, "NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "1000000"}
    daemons: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        daemons.append(subprocess.Popen(
            [sys.executable, "-m", "gasstove", "-c", str(config_file), "serve"], env=env,
            stderr=subprocess.DEVNULL))
        return daemons[-1]

    def stove(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config_file), *args],
                              capture_output=True, text=True, timeout=60)

    try:
        daemon = start()
        ready = systemd.wait_for("READY=1")
        assert (config_file.parent / "state" / "d.sock").exists()
        first = next(m for _, m in systemd.got)
        assert first.splitlines() == ["READY=1", "STATUS=serving stove 'kitchen': 0 timer(s) pending"]
        done = stove("status", "--json")  # READY: the daemon answers commands now
        assert done.returncode == 0 and f'"pid": {daemon.pid}' in done.stdout
        assert stove("off", "--in", "1h").returncode == 0

        time.sleep(3.0)
        between = gaps(systemd.pings(ready, ready + 3.0))
        assert 4 <= len(between) <= 7, between  # every 0.5 s: half of WATCHDOG_USEC
        assert 0.4 < statistics.median(between) < 0.6, between
        assert max(between) < 0.9, between  # never near systemd's 1 s, on a loaded machine too

        daemon.send_signal(signal.SIGSTOP)  # hung, as systemd would see it: no pings
        stopped = time.monotonic()
        time.sleep(1.0)
        daemon.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        assert systemd.pings(stopped + 0.05, resumed) == []
        time.sleep(1.0)
        assert systemd.pings(resumed, resumed + 1.0), "the pings resume with the daemon"

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        systemd.wait_for("STOPPING=1", timeout=1)
        systemd.got.clear()
        start()  # READY only once the stored timer is held again
        systemd.wait_for("READY=1")
        assert systemd.got[0][1].splitlines()[1] == "STATUS=serving stove 'kitchen': 1 timer(s) pending"
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)


def test_the_pings_stop_while_the_event_loop_is_blocked(
    config_file: Path, systemd: Systemd, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread of the daemon's (paho's, the miio executor's) still running is no sign of
    life: only the loop that fires the timers may ping."""
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    config, source = load_config_source(config_file)
    marks: dict[str, float] = {}

    async def main() -> None:
        stop = asyncio.Event()

        def block() -> None:
            marks["blocked"] = time.monotonic()
            time.sleep(1.0)  # a hung synchronous call on the loop
            marks["unblocked"] = time.monotonic()

        def ready(_daemon: object) -> None:
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, block)
            loop.call_later(2.0, stop.set)

        await asyncio.wait_for(serve(config, ready=ready, stop=stop, source=source), 30)

    asyncio.run(main())
    assert systemd.pings(marks["blocked"] + 0.01, marks["unblocked"] - 0.01) == []
    before = systemd.pings(0, marks["blocked"])
    after = systemd.pings(marks["unblocked"], time.monotonic())
    assert len(before) >= 3 and len(after) >= 3


def test_no_systemd_no_messages_and_another_process_s_watchdog_is_left_alone(
    systemd: Systemd,
) -> None:
    assert Notifier({}).watchdog_interval is None
    Notifier({}).send("READY=1")  # (nowhere to send: nothing happens)
    other = Notifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "400000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval is None
    ours = Notifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "400000",
                     "WATCHDOG_PID": str(os.getpid())})
    assert ours.watchdog_interval == pytest.approx(0.2)
    ours.send("READY=1")
    systemd.wait_for("READY=1", timeout=2)
    ours.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (scripts/test installs it)")
def test_the_service_unit_is_rated_at_most_2_5_by_systemd_analyze_security() -> None:
    unit = ROOT / "contrib" / "gasstove.service"
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for gasstove.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr
    assert float(found[1]) <= 2.5, done.stdout
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert "Unknown key" not in verify.stderr and "Invalid" not in verify.stderr, verify.stderr
