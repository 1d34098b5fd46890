"""One action per burner across processes, and pulses cut short by a crash (issue 13, items 6, 7).

Real ``stove`` and ``stove serve`` processes against a simulated miio relay on
UDP; nothing in-process but the relay. The relay here has no device-side
timer, so only the controller ends a pulse.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .fixtures_miio import SimRelay, burner_yaml
from .test_serve import stove

pytestmark = pytest.mark.timeout(120)

#: Runs of the off + lock race; the review saw the lock undone in 3 of 3.
RACE_RUNS = 3


def spawn(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def until(condition: Callable[[], bool], within: float) -> bool:
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def config_for(tmp_path: Path, sim: SimRelay, *, cut_seconds: str) -> Path:
    config = tmp_path / "gasstove.yaml"
    config.write_text(
        "stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n"
        + burner_yaml("left", sim, cut_seconds=cut_seconds)
        + f"daemon:\n  database: {tmp_path}/state/g.db\n  socket: {tmp_path}/d.sock\n")
    config.chmod(0o600)  # it holds a token
    return config


# -- item 6: one action per burner, across processes ------------------------------------------


def test_a_lock_during_another_processes_pulse_is_not_undone_by_its_restore(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="2s")
    undone = []
    for run in range(RACE_RUNS):
        off = spawn(config, "off", "left")
        assert until(lambda: sim.device.energised, 20), "the shut-off never cut"
        lock = stove(config, "lock", "left")  # during the 2 s pulse
        off_out, off_err = off.communicate(timeout=30)
        assert off.returncode == 0, off_out + off_err
        assert lock.returncode == 0 and lock.stdout.startswith("left  locked"), lock.stderr
        time.sleep(0.2)
        if not sim.device.energised:
            undone.append(run)
        assert stove(config, "unlock", "left").returncode == 0
    assert undone == [], f"the lock was undone by the pulse's restore in runs {undone}"


def test_a_lock_from_a_one_shot_command_holds_through_the_daemon(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    """One lock record for every front end: locked with no daemon, shut off through one."""
    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="1s")
    assert stove(config, "lock", "left").returncode == 0 and sim.device.energised
    serve(config)
    (burner,) = json.loads(stove(config, "status", "--json").stdout)["burners"]
    assert burner["locked"] and burner["message"].startswith("locked: held off"), burner
    off = stove(config, "off", "left", "--json")
    (burner,) = json.loads(off.stdout)["burners"]
    assert off.returncode == 0 and burner["message"].startswith("locked: loop held open"), burner
    time.sleep(1.5)  # longer than the pulse a shut-off would have made
    assert sim.device.energised, "the daemon's shut-off undid the lock"


def test_locks_an_older_daemon_kept_in_its_database_are_kept(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    import sqlite3

    from gasstove.adapters.store import Store

    sim = miio_relay(energised=True)  # held off by the older daemon's lock
    config = config_for(tmp_path, sim, cut_seconds="1s")
    Store(tmp_path / "state" / "g.db").close()
    with sqlite3.connect(tmp_path / "state" / "g.db") as db:
        db.execute("INSERT INTO locks VALUES ('left', 1.8e9, 'cli')")
    serve(config)
    (burner,) = json.loads(stove(config, "status", "--json").stdout)["burners"]
    assert burner["locked"] and burner["message"].startswith("locked: held off"), burner
    assert stove(config, "off", "left").returncode == 0
    assert sim.device.energised, "still locked after a shut-off"


# -- item 7: a pulse cut short by a crash is finished ----------------------------------------


@pytest.mark.parametrize("then", ["off", "lock"])
def test_a_one_shot_killed_mid_pulse_is_finished_by_the_next_command(
    tmp_path: Path, miio_relay: Callable[..., SimRelay], then: str,
) -> None:
    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="10s")
    off = spawn(config, "off", "left")
    assert until(lambda: sim.device.energised, 20), "the shut-off never cut"
    off.send_signal(signal.SIGKILL)  # mid-pulse
    off.wait(5)
    time.sleep(0.3)
    assert sim.device.energised, "nothing restored it: the loop is open"
    status = stove(config, "status", "--json")
    (burner,) = json.loads(status.stdout)["burners"]
    assert burner["relay"] == "cutting" and burner["message"].startswith("relay left cutting")
    again = stove(config, then, "left")
    assert again.returncode == 0, again.stderr
    assert "cut short" in again.stderr  # the warning: what was found and done
    if then == "off":  # its own pulse ends with the restore
        assert not sim.device.energised and sim.burner.state().loop_closed
    else:  # a lock was asked for: left held
        assert sim.device.energised and "the lock keeps the loop open" in again.stderr
        (burner,) = json.loads(stove(config, "status", "--json").stdout)["burners"]
        assert burner["message"].startswith("locked: held off"), burner


def test_a_daemon_killed_mid_pulse_restores_it_when_started_again(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="10s")
    daemon = serve(config)
    off = spawn(config, "off", "left")
    assert until(lambda: sim.device.energised, 20), "the daemon never cut"
    daemon.send_signal(signal.SIGKILL)  # mid-pulse
    daemon.wait(5)
    off.communicate(timeout=10)
    time.sleep(0.3)
    assert sim.device.energised, "nothing restored it: the loop is open"
    serve(config)
    assert until(lambda: not sim.device.energised, 10), "the restarted daemon left it cutting"
    (burner,) = json.loads(stove(config, "status", "--json").stdout)["burners"]
    assert burner["relay"] == "resting", burner
    log = (tmp_path / "serve-1.log").read_text()
    assert "WARNING" in log and "cut short" in log and "restored" in log, log


def test_a_daemon_that_cannot_restore_a_pulse_cut_short_alerts(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="10s")
    off = spawn(config, "off", "left")
    assert until(lambda: sim.device.energised, 20), "the shut-off never cut"
    off.send_signal(signal.SIGKILL)
    off.wait(5)
    sim.device.settings.loss = 1.0  # the relay stops answering
    serve(config)
    log = tmp_path / "serve-0.log"
    assert until(lambda: "ALERT" in log.read_text(), 15), log.read_text()
    assert "ERROR" in log.read_text()
    (burner,) = json.loads(stove(config, "status", "--json").stdout)["burners"]
    assert not burner["ok"] and "left cutting" in burner["message"], burner


def test_a_running_daemon_finishes_a_pulse_another_process_left_open(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    """A one-shot command that acted while the daemon did not answer, killed mid-pulse:
    the running daemon's next poll restores the loop (not only its next start)."""
    from gasstove.adapters.burner_guard import BurnerRecord, FileBurnerGuard, Pulse
    from gasstove.adapters.config_file import load_config

    sim = miio_relay()
    config = config_for(tmp_path, sim, cut_seconds="2s")
    config.write_text(config.read_text() + "  poll_interval: 5s\n")
    serve(config)
    assert until(lambda: (tmp_path / "d.sock").exists(), 20), "the daemon never answered"
    guard = FileBurnerGuard(load_config(config).daemon.burners_path())

    async def leave_a_pulse() -> None:  # what a killed `stove off` leaves behind
        async with guard.hold("left", wait=5) as hold:
            hold.write(BurnerRecord(pulse=Pulse(since=time.time(), by="pid 999999")))

    sim.device.energised = True  # the contact that process opened
    asyncio.run(leave_a_pulse())
    assert until(lambda: not sim.device.energised, 15), "the running daemon left it cutting"
    # the record is cleared once the restore is confirmed, just after the contact closes
    assert until(lambda: guard.record("left").pulse is None, 5), guard.record("left")
    log = (tmp_path / "serve-0.log").read_text()
    assert "cut short" in log and "restored" in log, log


def test_kept_record_files_leave_the_low_descriptors_to_the_mqtt_connection(
    tmp_path: Path,
) -> None:
    """A daemon keeps every burner's record file open; paho watches its socket with
    select(), which cannot take a descriptor past 1023: after ten thousand burners were
    acted on, a reconnection to the broker must still get a low one."""
    import resource
    import select
    import socket

    from gasstove.adapters.burner_guard import FileBurnerGuard

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 4096:
        pytest.skip("needs a file limit of 4096 (the daemon raises its own)")
    guard = FileBurnerGuard(tmp_path)
    guard.open_all(f"b{i}" for i in range(1500))

    async def act() -> None:
        async with guard.hold("b7", wait=1) as hold:
            hold.write(hold.record.with_pulse(None), sync_later=False)

    asyncio.run(act())
    with socket.socket() as sock:
        assert sock.fileno() < 1024
        select.select([sock], [], [], 0)  # what paho does with it


def test_with_no_room_above_1023_the_record_file_is_closed_after_each_action(
    tmp_path: Path,
) -> None:
    """Under a file limit of 1024 (a CLI in a default shell) nothing can be kept high:
    the record is opened per action and closed after it, so the burner is free again."""
    code = f"""
import asyncio, fcntl, os, resource
from pathlib import Path
from gasstove.adapters.burner_guard import FileBurnerGuard
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
guard = FileBurnerGuard(Path({str(tmp_path)!r}))
async def act():
    for _ in range(2):
        async with guard.hold("left", wait=1) as hold:
            hold.write(hold.record.with_pulse(None))
before = len(os.listdir("/proc/self/fd"))
asyncio.run(act())
after = len(os.listdir("/proc/self/fd"))
probe = os.open({str(tmp_path / "left.record")!r}, os.O_RDONLY)
fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody holds it
print(after - before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) <= 0  # nothing left open (the loop's own files closed too)
