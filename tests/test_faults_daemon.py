"""The daemon on a bad day: kill -9 mid-pulse, a locked or damaged SQLite file.

test_daemon.py covers timers across restarts, clock jumps and a damaged
database refused by the Store; test_serve.py kill -9 with pending timers.
Here: a real ``stove serve`` killed in the middle of a cut (the relay's own
pulse restores it, or ``stove status`` says the relay was left cutting and the
daemon's next start restores it; test_burner_processes.py has more), and
a database another program holds locked (a backup tool, ``sqlite3`` open in a
shell): a timer due then still shuts off, a new one is refused in one line,
and ``stove serve`` refuses a damaged file in one line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gasstove.daemon.server import handle_line
from gasstove.domain.commands import Command

from .fixtures_daemon import FakeClock
from .fixtures_miio import SimRelay, burner_yaml
from .fixtures_mqtt import Mosquitto, MqttSim
from .test_daemon import running
from .test_serve import stove

pytestmark = pytest.mark.timeout(40)


# -- kill -9 in the middle of a cut -------------------------------------------------------


@pytest.mark.parametrize("device_timer", [True, False])
def test_kill_9_mid_pulse(
    tmp_path: Path, mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim],
    serve: Callable[[Path], subprocess.Popen[str]], device_timer: bool,
) -> None:
    cut = threading.Event()
    sim = mqtt_sim({"dialect": "tasmota", "topic": f"k9-{os.getpid()}-{device_timer}"},
                   on_change=lambda what: cut.set() if "energised" in what else None)
    config = tmp_path / "gasstove.yaml"
    config.write_text(
        "stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n    left:\n      cut_seconds: 1s\n"
        f"      relay: {{type: mqtt, dialect: tasmota, topic: {sim.relay['topic']}, "
        f"device_timer: {str(device_timer).lower()}}}\n"
        f"mqtt: {{host: {mosquitto.host}, port: {mosquitto.port}}}\n"
        f"daemon: {{database: {tmp_path}/g.db, socket: {tmp_path}/d.sock}}\n")
    daemon = serve(config)
    off = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), "off"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert cut.wait(10), "the daemon never cut"
        daemon.send_signal(signal.SIGKILL)  # mid-pulse: the cut is 1 s long
        daemon.wait(5)
    finally:
        off.communicate(timeout=10)
    assert not sim.burner.lit
    time.sleep(1.5)  # longer than the pulse
    status = stove(config, "status", "--json")  # no daemon now: read from the relay itself
    (burner,) = json.loads(status.stdout)["burners"]
    if device_timer:
        assert status.returncode == 0 and burner["relay"] == "resting", status.stdout
        assert not sim.sim.energised and sim.burner.state().loop_closed
    else:
        assert not burner["ok"] or burner["relay"] == "cutting"
        assert burner["relay"] == "cutting" and sim.sim.energised
        assert "cutting" in burner["message"]
        assert burner["message"].startswith("relay left cutting: found a pulse cut short")
        serve(config)  # the daemon back: it finishes the pulse before it answers
        again = json.loads(stove(config, "status", "--json").stdout)["burners"][0]
        assert again["relay"] == "resting" and not sim.sim.energised, again


# -- a database another program holds locked ---------------------------------------------


class HeldLock:
    """Another program with a write transaction open on the database (sqlite3's EXCLUSIVE)."""

    def __init__(self, db: Path) -> None:
        self.db = sqlite3.connect(db, isolation_level=None)
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


def test_a_timer_due_while_the_database_is_locked_still_shuts_off(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(Command("off", ("left",), 60, "cli"))
            held = HeldLock(db)
            try:
                with caplog.at_level(logging.ERROR):
                    await clock.advance(61, settle=0.1)
                    # the cut does not wait for the database (the marks are written
                    # by the disk thread, which waits out sqlite's busy timeout)
                    await clock.advance_until(lambda: bool(fired), limit=5)
                    assert not sim.burner.lit
                    await daemon.disk.written()
            finally:
                held.release()
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]

    asyncio.run(main())
    assert not sim.burner.lit, "the shut-off happened although the database was locked"
    assert "not written (database is locked)" in caplog.text
    with sqlite3.connect(db) as conn:  # left on disk: it fires again on recovery (safe)
        assert conn.execute("SELECT COUNT(*) FROM timers").fetchone() == (1,)


def test_a_timer_is_not_acknowledged_when_the_database_is_locked(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, FakeClock(), burner_yaml("left", sim)) as (daemon, _):
            held = HeldLock(db)
            try:
                reply = await handle_line(daemon, b'{"action": "off", "in": "20m"}', "uid 0")
            finally:
                held.release()
            assert reply["ok"] is False and reply["exit"] == 2
            assert "\n" not in reply["error"]
            assert "database is locked" in reply["error"] and "NOT set" in reply["error"]
            assert daemon.timers == {}

    asyncio.run(main())
    assert sim.burner.lit


def test_a_timer_waiting_for_a_busy_database_holds_up_no_other_command(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """The disk is written by the daemon's disk thread: while a timer waits for the
    database (held by a backup tool here; a slow fsync on a loaded machine), the
    daemon answers at once, and the timer is acknowledged only once it is stored."""
    sim = miio_relay()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, FakeClock(), burner_yaml("left", sim)) as (daemon, _):
            held = HeldLock(db)
            try:
                arming = asyncio.create_task(
                    handle_line(daemon, b'{"action": "off", "in": "20m"}', "uid 0"))
                await asyncio.sleep(0.05)
                start = time.monotonic()
                status = await handle_line(daemon, b'{"action": "status"}', "uid 0")
                assert time.monotonic() - start < 0.5, "status waited for the database"
                assert status["ok"] and status["burners"][0]["timer"] is None
                assert not arming.done(), "acknowledged before it was stored"
            finally:
                held.release()
            reply = await arming
            assert reply["ok"] and daemon.timers["left"]
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT burner FROM timers").fetchall() == [("left",)]

    asyncio.run(main())


def test_stove_serve_refuses_a_damaged_database_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "g.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    config = tmp_path / "gasstove.yaml"
    config.write_text("stove:\n  burners:\n" + burner_yaml("left", None)
                      + f"daemon: {{database: {tmp_path}/g.db, socket: {tmp_path}/d.sock}}\n")
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "g.db" in lines[0] and "pending timers" in lines[0], done.stderr


def test_a_one_shot_cut_with_a_damaged_history_file_cuts_and_says_so(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    (tmp_path / "g.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    config = tmp_path / "gasstove.yaml"
    config.write_text("stove:\n  burners:\n" + burner_yaml("left", sim)
                      + f"daemon: {{database: {tmp_path}/g.db, socket: {tmp_path}/d.sock}}\n")
    config.chmod(0o600)  # it holds a token
    done = stove(config, "lock")
    assert done.returncode == 0 and not sim.burner.lit, done.stderr
    assert "Traceback" not in done.stderr
    assert "history" in done.stderr.lower() and len(done.stderr.strip().splitlines()) == 1


def test_with_the_database_locked_an_immediate_cut_still_happens_and_a_cancel_is_refused(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(Command("off", ("left",), 600, "cli"))
            held = HeldLock(db)
            try:
                refused = await handle_line(daemon, b'{"action": "cancel"}', "uid 0")
                assert refused["ok"] is False and "NOT cancelled" in refused["error"]
                assert "left" in daemon.timers, "a cancel that was not saved leaves it armed"
                task = asyncio.create_task(daemon.handle(Command("off", ("left",))))
                with caplog.at_level(logging.ERROR):
                    await clock.advance_until(task.done)
                (now,) = task.result()
            finally:
                held.release()
            assert now["ok"] and not sim.burner.lit, "the database may not stand in a cut's way"
            assert daemon.timers == {}
            await clock.advance(700)
            assert fired == [], "the timer that was no longer needed did not pulse again"

    asyncio.run(main())
    assert "fires once more if the daemon restarts" in caplog.text
