"""`stove serve` as a real process: the CLI talks to it, and kill -9 loses no timer."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gasstove.cli.main import for_people
from gasstove.domain.timers import local_clock

from .fixtures_miio import SimRelay, burner_yaml

#: A timer's instant as the CLI shows it: "tomorrow" when it falls after midnight (a run
#: just before midnight failed on the plain "shut-off at").
SHUT_OFF_AT = r"shut-off (tomorrow )?at "

Stove = Callable[..., subprocess.CompletedProcess[str]]


def cuts(sim: SimRelay) -> int:
    return sum(1 for r in sim.device.requests if r.get("method") == "set_properties"
               and r["params"][0].get("value") is True)


@pytest.fixture
def daemon_config(tmp_path: Path, miio_relay: Callable[..., SimRelay]) -> tuple[Path, SimRelay, SimRelay]:
    left, right = miio_relay("left"), miio_relay("right")
    config = tmp_path / "gasstove.yaml"
    config.write_text(
        "stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n"
        + burner_yaml("left", left) + burner_yaml("right", right)
        + f"daemon:\n  database: {tmp_path}/state/g.db\n  socket: {tmp_path}/state/d.sock\n"
    )
    config.chmod(0o600)  # it holds tokens
    return config, left, right


@pytest.fixture
def serve(daemon_config: tuple[Path, SimRelay, SimRelay]) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    config = daemon_config[0]
    procs: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                                stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        sock = config.parent / "state" / "d.sock"
        for _ in range(200):
            if sock.exists():
                return proc
            time.sleep(0.05)
        raise AssertionError("the daemon did not start")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def stove(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def test_kill_9_with_pending_timers_loses_none_and_fires_none_twice(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    config, left, right = daemon_config
    first = serve()
    done = stove(config, "off", "left", "--in", "1s")
    assert done.returncode == 0 and re.search(SHUT_OFF_AT, done.stdout)
    done = stove(config, "off", "right", "--in", "1h", "--json")
    assert json.loads(done.stdout)["burners"][0]["timer"]["in_s"] == pytest.approx(3600, abs=2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(5)
    time.sleep(1.5)  # left comes due while nothing holds it
    assert left.burner.lit and cuts(left) == 0

    second = serve()
    deadline = time.monotonic() + 10
    while left.burner.lit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left.burner.lit, "the late timer fired at once on recovery"
    while True:  # (a status does not wait for the firing timer's pulse to end)
        status = stove(config, "status", "--json")
        rows = {r["burner"]: r for r in json.loads(status.stdout)["burners"]}
        if rows["left"]["timer"] is None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows["left"]["timer"] is None
    assert rows["right"]["timer"]["in_s"] > 3500 and right.burner.lit
    done = stove(config, "cancel", "right")
    assert done.returncode == 0 and "timer cancelled" in done.stdout
    second.send_signal(signal.SIGTERM)
    _, log = second.communicate(timeout=10)
    assert "came due at" in log and "s late" in log
    assert cuts(left) == 1 and cuts(right) == 0, "each timer fired exactly once"


def test_without_a_daemon_a_delay_needs_wait_and_cancel_has_nothing_to_do(
    daemon_config: tuple[Path, SimRelay, SimRelay],
) -> None:
    config, left, _ = daemon_config
    done = stove(config, "off", "--in", "20m")
    assert done.returncode == 2
    assert done.stderr == ("error: no `stove serve` daemon is running to hold the timer: start "
                           "`stove serve`, or add --wait to keep this terminal as the timer\n")
    done = stove(config, "cancel")
    assert done.returncode == 0 and "no timer pending" in done.stdout
    assert left.device.requests == []


def test_a_second_daemon_is_refused(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    config = daemon_config[0]
    serve()
    done = stove(config, "serve")
    assert done.returncode == 2
    assert "another `stove serve` is using this database" in done.stderr


# -- cancel and status tell the truth while the daemon is down (issue 13, item 5) ---------------


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def test_cancel_with_the_daemon_down_cancels_the_stored_timer(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    config, left, right = daemon_config
    first = serve()
    assert stove(config, "off", "left", "right", "--in", "1s").returncode == 0
    stop(first)  # both timers stay stored; neither has fired
    done = stove(config, "cancel", "left")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("left  timer cancelled (was due ")
    second = serve()  # past the due time: right fires at once, left must not
    deadline = time.monotonic() + 10
    while right.burner.lit and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    stop(second)
    assert not right.burner.lit and cuts(right) == 1
    assert left.burner.lit and cuts(left) == 0, "the cancelled timer never fired"
    history = stove(config, "history", "left", "--json")
    assert "timer_cancelled" in history.stdout


def test_status_with_the_daemon_down_shows_stored_timers_and_locks_loudly(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    config, left, right = daemon_config
    first = serve()
    assert stove(config, "off", "left", "--in", "1h").returncode == 0
    assert stove(config, "lock", "right").returncode == 0
    stop(first)
    done = stove(config, "status")
    assert done.returncode == 1, "a timer nothing will fire is a failure to report"
    line = next(x for x in done.stderr.splitlines() if x.startswith("left"))
    assert re.search(SHUT_OFF_AT, line) and "will NOT fire: no `stove serve` is running" in line
    assert "right" in done.stdout and "locked" in done.stdout
    rows = {r["burner"]: r for r in json.loads(stove(config, "status", "--json").stdout)["burners"]}
    assert rows["left"]["timer"]["in_s"] > 3500 and rows["left"]["timer"]["armed"] is False
    assert rows["right"]["locked"] is True and rows["right"]["timer"] is None
    assert cuts(left) == 0 and left.burner.lit and not right.burner.lit


def test_cancel_that_cannot_reach_the_stored_timers_says_so_and_exits_1(
    daemon_config: tuple[Path, SimRelay, SimRelay],
) -> None:
    from gasstove.adapters.store import Store

    config, _, _ = daemon_config
    holder = Store(config.parent / "state" / "g.db")  # a daemon that does not answer
    try:
        done = stove(config, "cancel", "left")
    finally:
        holder.close()
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("left  could not cancel: ")


def test_a_failed_stove_off_leaves_the_daemons_timer_armed(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    config, left, _ = daemon_config
    serve()
    done = stove(config, "off", "left", "--in", "1h", "--json")
    due = json.loads(done.stdout)["burners"][0]["timer"]["due_at"]
    left.device.settings.loss = 1.0  # the relay falls silent
    done = stove(config, "off", "left")
    left.device.settings.loss = 0.0
    assert done.returncode == 1 and left.burner.lit
    assert done.stderr.startswith("left  shut-off NOT confirmed")
    # (in this terminal's zone, as the CLI shows the daemon's instants)
    assert done.stderr.endswith(for_people(f"; its timer at {local_clock(due)} stays armed\n"))
    rows = json.loads(stove(config, "status", "--json").stdout)["burners"]
    assert rows[0]["timer"]["due_at"] == due, "still pending in the daemon"


def test_a_daemon_command_is_answered_without_loading_typer_pydantic_or_miio(
    daemon_config: tuple[Path, SimRelay, SimRelay], serve: Callable[[], subprocess.Popen[str]],
) -> None:
    """Issue 17 item 3: what costs ~250 ms of start-up is not loaded for a command the
    daemon answers; the answers are those of the full command line."""
    config = daemon_config[0]
    serve()
    for args in (["status"], ["off", "left", "--in", "20m"], ["status", "--json"],
                 ["cancel", "left"], ["lock", "right"], ["unlock", "right"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gasstove", "-c",
                               str(config), *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (args, done.stderr)
        loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                  if line.startswith("import time:")}
        assert not loaded & {"typer", "click", "pydantic", "miio", "gasstove.domain.config"}, args
    # the full command line for what the fast path leaves to it, with the same daemon
    done = stove(config, "status", "--watch", "--help")
    assert done.returncode == 0 and "--watch" in done.stdout
    done = stove(config, "off", "nowhere")
    assert done.returncode == 2 and done.stderr.startswith("error: unknown burner 'nowhere'")
