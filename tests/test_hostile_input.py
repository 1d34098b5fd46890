"""Hostile files and payloads (issue 14, items 3 and 4): a one-line answer, never a
traceback, a hang or a swollen process; real `stove` processes, real files, the real
daemon on its real socket and a real broker."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .fixtures_miio import TOKEN, Run, SimRelay, burner_yaml
from .fixtures_mqtt import MqttSim
from .test_daemon_mqtt import Watcher, setup  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent

#: A hostile file must be refused within this, ...
REFUSE_S = 1.0
#: ... and without the process growing more than this beyond refusing a plain bad file
#: (the worst is 120 000 values composed before the budget stops them: ~40 MB).
GROWTH_KB = 48 * 1024


def run_stove(*args: str, env: dict[str, str] | None = None,
              timeout: float = 10) -> tuple[int, str, str, float, int]:
    """(exit code, stdout, stderr, seconds, peak RSS in KB) of a real `stove` process.

    Its address space is capped, so a regression fails the test instead of the machine.
    """
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "gasstove", *args], stdout=out,
                                stderr=err, text=True, preexec_fn=cap,
                                env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        while True:  # wait4, not wait: this child's own peak RSS
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise AssertionError(f"`stove {' '.join(args)}` still running after {timeout} s")
            time.sleep(0.005)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), seconds, usage.ru_maxrss


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- item 3: files --------------------------------------------------------------------

def _laughs(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nstove: *a{levels - 1}\n"


HOSTILE = {
    # 9**10 strings from 500 bytes: 361 MB and rising when `stove off` was killed
    "billion laughs": (_laughs(), "gasstove.yaml:6: more than 120000 values"),
    "an alias to itself": ("stove: &a [*a]\n", "gasstove.yaml:1: an alias refers to the value"),
    "deep nesting": ("stove: " + "[" * 100_000 + "]" * 100_000 + "\n",
                     "gasstove.yaml:1: not valid YAML: exceeded maximum nesting depth"),
    "deep lists": ("stove: " + "[" * 40 + "]" * 40 + "\n",
                   "gasstove.yaml:1: nested more than 32 deep"),
    "deep mappings": ("".join(f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "x: 1\n",
                      "gasstove.yaml:33: nested more than 32 deep"),
    "a huge list": ("stove: [" + "0, " * 130_000 + "0]\n",
                    "gasstove.yaml:1: more than 120000 values"),
    "over 1 MiB": ("stove:\n  name: x\n" + "# padding\n" * 120_000,
                   "gasstove.yaml: larger than 1 MiB"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_config_file_is_refused_at_once_and_without_growing(
        case: str, tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text("stove: 1\n")
    *_, plain_kb = run_stove("-c", str(tmp_path / "plain.yaml"), "off")
    text, expected = HOSTILE[case]
    path = tmp_path / "gasstove.yaml"
    path.write_text(text)
    for command in (["off"], ["status"], ["check"], ["history"]):
        code, out, err, seconds, peak_kb = run_stove("-c", str(path), *command)
        line = one_line_error(err)
        assert code == 2 and out == "", (command, line)
        assert line.startswith(f"error: {path.parent}/{expected}"), (command, line)
        assert seconds < REFUSE_S + 1.5, (command, seconds)  # (+ the interpreter's start)
        assert peak_kb < plain_kb + GROWTH_KB, (command, peak_kb, plain_kb)


def test_aliases_within_the_budget_still_work(tmp_path: Path) -> None:
    from gasstove.adapters.config_file import load_config

    path = tmp_path / "gasstove.yaml"
    path.write_text(f"""\
stove:
  burners:
    left:
      cut_seconds: &cut 2s
      relay: {{type: miio, host: 192.168.1.50, token: {TOKEN}}}
    right:
      cut_seconds: *cut
      relay: {{type: miio, host: 192.168.1.51, token: {TOKEN}}}
""")
    assert load_config(path).stove.burners["right"].cut_seconds == 2


def _config(tmp_path: Path, token: str, mode: int) -> Path:
    path = tmp_path / "gasstove.yaml"
    path.write_text(f"""\
stove:
  burners:
    left:
      relay: {{type: miio, host: 127.0.0.254, token: "{token}"}}
daemon: {{socket: {tmp_path}/d.sock, database: {tmp_path}/d.db}}
""")
    path.chmod(mode)
    return path


def test_a_secret_others_can_read_is_warned_of_and_check_says_how_to_fix_it(
        tmp_path: Path, stove: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, TOKEN, 0o644)
    fix = (f"warning: {path}:4 stove.burners.left.relay.token: a secret in a file that group "
           f"and others can read; run `chmod 600 {path}` (or take it from an environment "
           "variable, ${NAME})")
    code, out, err = stove("-c", str(path), "history")
    assert (code, out, err) == (0, "no events recorded yet\n", fix + "\n")
    code, out, err = stove("-c", str(path), "check", "--json")
    assert code == 1 and json.loads(out)["warnings"] == [fix.removeprefix("warning: ")]
    assert TOKEN not in out + err
    code, out, err = stove("-c", str(path), "check")
    assert code == 1 and err.startswith(fix + "\n")  # (then: the relay is not reachable)
    path.chmod(0o640)
    assert "that group can read; run `chmod 600" in stove("-c", str(path), "history")[2]
    for safe in (_config(tmp_path, TOKEN, 0o600), _config(tmp_path, "${LEFT_TOKEN}", 0o644)):
        monkeypatch.setenv("LEFT_TOKEN", TOKEN)
        assert stove("-c", str(safe), "history") == (0, "no events recorded yet\n", "")


# -- item 4: no traceback, anywhere ---------------------------------------------------

def _history_config(tmp_path: Path, database: Path) -> Path:
    path = tmp_path / "gasstove.yaml"
    path.write_text(f"""\
stove:
  burners:
    left:
      relay: {{type: miio, host: 127.0.0.254, token: "${{LEFT_TOKEN}}"}}
daemon: {{socket: {tmp_path}/d.sock, database: {database}}}
""")
    return path


def _with_events(database: Path) -> None:
    from gasstove.adapters.history import EventLog
    from gasstove.domain.history import Event

    log = EventLog(database)
    log.record([Event(1_800_000_000_000, "test", "left", "cut", "cli", "uid 0", "confirmed",
                      "", 41)])
    log.close()


def test_history_on_a_database_another_process_holds_locked(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "state" / "d.db"
    _with_events(database)
    holder = sqlite3.connect(database, isolation_level=None)  # (this test is the other process)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # readers are shut out too, even in WAL
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM events")
    config = _history_config(tmp_path, database)
    code, out, err, seconds, _ = run_stove("-c", str(config), "history",
                                           env={"LEFT_TOKEN": TOKEN})
    line = one_line_error(err)
    assert (code, out) == (1, "") and seconds < 5
    assert line == (f"error: the history in {database} cannot be read now: database is locked "
                    "(another process holds it); try again"), line
    holder.execute("ROLLBACK")
    holder.close()
    code, out, err, *_ = run_stove("-c", str(config), "history", env={"LEFT_TOKEN": TOKEN})
    assert code == 0 and "confirmed" in out and err == ""


def test_history_on_a_corrupt_database(tmp_path: Path) -> None:
    database = tmp_path / "d.db"
    database.write_bytes(b"not sqlite at all\n" * 400)
    config = _history_config(tmp_path, database)
    code, out, err, *_ = run_stove("-c", str(config), "history", env={"LEFT_TOKEN": TOKEN})
    assert (code, out, one_line_error(err)) == (2, "", (
        f"error: the history in {database} cannot be read: file is not a database; move it "
        "away to start afresh"))
    database.unlink()
    database.mkdir()  # (not a file at all)
    code, out, err, *_ = run_stove("-c", str(config), "history", env={"LEFT_TOKEN": TOKEN})
    assert (code, out) == (2, "")
    assert one_line_error(err).startswith(f"error: the history in {database} cannot be read: ")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(writable, read-only) views of one folder: a read-only bind mount (root only)."""
    writable, view = tmp_path / "rw", tmp_path / "ro"
    writable.mkdir()
    view.mkdir()
    mount = subprocess.run(["mount", "--bind", str(writable), str(view)], capture_output=True)
    if mount.returncode:
        pytest.skip(f"no bind mount here: {mount.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield writable, view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_history_on_a_read_only_file_system(read_only: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    writable, view = read_only
    _with_events(writable / "d.db")  # (closed: its WAL folded in, no -shm to share)
    config = _history_config(tmp_path, view / "d.db")
    code, out, err, *_ = run_stove("-c", str(config), "history", env={"LEFT_TOKEN": TOKEN})
    assert (code, err) == (0, "") and "confirmed" in out


NESTED = {
    "a list 30 000 deep": "[" * 30_000 + "]" * 30_000,
    "an object 8 000 deep": '{"a": ' * 8_000 + "1" + "}" * 8_000,
    "burners 900 deep": '{"action": "off", "burners": ' + "[" * 900 + "]" * 900 + "}",
    "an action 40 deep": '{"action": ' + "[" * 40 + "]" * 40 + "}",
}
DEEP = "command is nested more than 16 deep: not a command"


def _ask(sock_path: Path, line: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(sock_path))
        sock.sendall(line + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(65536)
            assert chunk, reply
            reply += chunk
    answer: dict[str, Any] = json.loads(reply)
    return answer


def test_nested_json_on_the_socket_and_mqtt_is_refused_in_one_line(
        setup: tuple[str, str, MqttSim, Watcher, Path],  # noqa: F811 (the fixture)
        serve: Callable[[Path], subprocess.Popen[str]]) -> None:
    base, _, sim, watcher, config = setup
    config.chmod(0o600)
    daemon = serve(config)
    watcher.wait(lambda t, p: t == f"{base}/left/state" and p.get("reachable"))
    sock_path = config.parent / "d.sock"
    for case, payload in NESTED.items():
        reply = _ask(sock_path, payload.encode())
        assert reply == {"ok": False, "exit": 2, "error": DEEP}, case
        for topic in (f"{base}/set", f"{base}/left/set"):
            seen = len(watcher.messages)
            watcher.publish(topic, payload)
            result = watcher.wait(lambda t, p: t == f"{base}/result", after=seen)
            assert result == {"ok": False, "exit": 2, "request": None,
                              "error": f"command on {topic} {DEEP.removeprefix('command ')}"}, case
    huge = json.dumps({"action": "status", "id": "x" * 100_000})
    reply = _ask(sock_path, huge.encode())
    assert reply == {"ok": False, "exit": 2, "error": "request line too long"}
    seen = len(watcher.messages)
    watcher.publish(f"{base}/set", huge)
    assert watcher.wait(lambda t, p: t == f"{base}/result", after=seen)["error"] == (
        f"command on {base}/set too large ({len(huge)} bytes)")
    # the daemon is fine afterwards, on both
    assert _ask(sock_path, b'{"action": "status"}')["ok"] is True
    seen = len(watcher.messages)
    watcher.publish(f"{base}/left/set", json.dumps({"action": "off", "id": "after"}))
    result = watcher.wait(lambda t, p: t == f"{base}/result", after=seen)
    assert result["ok"] and result["burners"][0]["restored"] is True and not sim.burner.lit
    assert daemon.poll() is None
    log = (config.parent / "serve-0.log").read_text()
    assert "Traceback" not in log and "internal error" not in log, log[-2000:]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A 512 KiB tmpfs at tmp_path/disk (root only), and a way to fill it up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)],
                           capture_output=True)
    if mount.returncode:
        pytest.skip(f"no tmpfs here: {mount.stderr.decode().strip()}")

    def fill() -> None:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"x" * 1024):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)

    try:
        yield fill
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


LOST_LOCK = ("left  locked: the relay holds the loop open (confirmed in {} ms), but the lock could "
             "NOT be recorded (No space left on device): only this process knows of it, and "
             "another command may end it; `stove lock left` again once it can be written")


def test_a_full_disk_during_lock_is_said_and_nothing_is_misreported_later(
        tmp_path: Path, small_disk: Callable[[], None], miio_relay: Callable[..., SimRelay],
        serve: Callable[[Path], subprocess.Popen[str]]) -> None:
    sim = miio_relay()
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"stove:\n  name: test\n  deadline: 2s\n  burners:\n"
                      f"{burner_yaml('left', sim)}"
                      f"daemon: {{socket: {tmp_path}/d.sock, database: {tmp_path}/disk/g.db}}\n")
    config.chmod(0o600)
    daemon = serve(config)
    code, out, err, *_ = run_stove("-c", str(config), "off", "--in", "20m")
    assert code == 0, err
    small_disk()

    code, out, err, *_ = run_stove("-c", str(config), "lock")
    assert code == 1 and out == "" and "Traceback" not in err
    cut_ms = err.split("confirmed in ")[1].split(" ms")[0]
    assert err.startswith(LOST_LOCK.format(cut_ms)), err
    assert sim.device.energised and not sim.burner.lit  # what the relay did: held open

    # the daemon keeps the lock it could not write; its timer is not "cancelled" when it
    # is still stored
    code, out, err, *_ = run_stove("-c", str(config), "off")
    assert code == 0 and "was cancelled" not in out, out + err
    assert out.startswith("left  locked: loop held open"), out
    assert ("its pending timer is no longer needed and will not fire now, but it is still "
            "stored (") in out and "it fires once more if the daemon restarts" in out, out
    assert sim.device.energised, "a shut-off of a burner locked only in memory holds it"
    code, out, _, *_ = run_stove("-c", str(config), "status")
    assert out.startswith("left  locked: held off"), out

    (tmp_path / "disk" / "filler").unlink()  # room again: the daemon's next look writes it
    assert run_stove("-c", str(config), "status")[0] == 0
    daemon.kill()
    daemon.wait()
    code, out, err, *_ = run_stove("-c", str(config), "status")
    assert "locked: held off" in out + err, out + err


def test_a_full_disk_during_a_one_shot_lock_is_said(
        tmp_path: Path, small_disk: Callable[[], None],
        miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"stove:\n  name: test\n  deadline: 2s\n  burners:\n"
                      f"{burner_yaml('left', sim)}"
                      f"daemon: {{socket: {tmp_path}/d.sock, database: {tmp_path}/disk/g.db}}\n")
    config.chmod(0o600)
    small_disk()
    code, out, err, *_ = run_stove("-c", str(config), "lock")
    assert code == 1 and out == "" and "Traceback" not in err
    cut_ms = err.split("confirmed in ")[1].split(" ms")[0]
    # (before it, the log's lines: the record and the history were not written)
    assert err.splitlines()[-1] == LOST_LOCK.format(cut_ms), err
    assert sim.device.energised


def test_an_mqtt_password_in_the_file_is_a_secret_too(tmp_path: Path) -> None:
    from gasstove.adapters.config_file import load_config

    path = tmp_path / "gasstove.yaml"
    path.write_text("stove:\n  burners:\n    left:\n      relay: {type: mqtt, dialect: tasmota, "
                    "topic: t}\nmqtt: {host: localhost, username: u, password: hunter2}\n")
    path.chmod(0o604)
    warnings: list[str] = []
    load_config(path, warnings=warnings)
    assert warnings == [f"{path}:5 mqtt.password: a secret in a file that others can read; "
                        f"run `chmod 600 {path}` (or take it from an environment variable, "
                        "${NAME})"]


def test_every_secret_field_of_the_models_is_watched() -> None:
    from pydantic import BaseModel, SecretStr

    from gasstove.adapters.config_file import SECRET_KEYS, _models_in
    from gasstove.domain.config import Config

    found, todo, seen = set(), [Config], set()
    while todo:
        model: type[BaseModel] = todo.pop()
        seen.add(model)
        for name, field in model.model_fields.items():
            if "SecretStr" in str(field.annotation) or field.annotation is SecretStr:
                found.add(name)
            todo += [m for m in _models_in(field.annotation) if m not in seen]
    assert found == set(SECRET_KEYS)


def test_an_unlock_that_cannot_be_written_is_said_and_written_once_it_can(
        tmp_path: Path, small_disk: Callable[[], None], miio_relay: Callable[..., SimRelay],
        serve: Callable[[Path], subprocess.Popen[str]]) -> None:
    sim = miio_relay()
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"stove:\n  name: test\n  deadline: 2s\n  burners:\n"
                      f"{burner_yaml('left', sim)}"
                      f"daemon: {{socket: {tmp_path}/d.sock, database: {tmp_path}/disk/g.db}}\n")
    config.chmod(0o600)
    daemon = serve(config)
    assert run_stove("-c", str(config), "lock")[0] == 0  # recorded
    record = tmp_path / "disk" / "g.burners" / "left.record"
    record.unlink()
    record.mkdir()  # (what cannot be opened for writing, even by root)
    code, out, err, *_ = run_stove("-c", str(config), "unlock")
    assert (code, out) == (1, "") and err == (
        f"left  unlocked: the loop is closed and the burner can be lit by hand, but the unlock "
        f"could NOT be recorded ({record} could not be opened): other commands may still take "
        "it as locked; `stove unlock left` again once it can be written\n")
    assert not sim.device.energised
    record.rmdir()
    code, out, _, *_ = run_stove("-c", str(config), "status")  # the daemon writes it now
    assert code == 0 and out.startswith("left  ready"), out
    daemon.kill()
    daemon.wait()
    code, out, err, *_ = run_stove("-c", str(config), "status")
    assert code == 0 and out.startswith("left  ready"), out + err
