"""The local machine (issue 14, item 2): the daemon's socket folder, who the CLI trusts on the
other end of the socket, who the daemon takes commands from, and who the history names.

Other users are real accounts made for the session (``useradd``: tests run as root here and in
CI). Their processes start as root and drop to the account before they touch a socket: the
interpreter lives under /root, which they could not exec from (so not ``preexec_fn``).
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from gasstove.daemon.server import start_socket
from gasstove.daemon.service import Daemon
from gasstove.domain.errors import UsageError
from gasstove.domain.remote import remote_for

from .fixtures_miio import SimRelay, burner_yaml

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: makes throwaway user accounts (useradd) and runs "
    "processes as them")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


@pytest.fixture(scope="session")
def accounts() -> Iterator[dict[str, Account]]:
    """mallory (a neighbour), daemon (the daemon's user), bob (in the stove group), carol (not)."""
    tag = f"{os.getpid() % 100000}"
    group = f"gsg{tag}"
    made: list[str] = []
    subprocess.run(["groupadd", group], check=True)
    try:
        out: dict[str, Account] = {}
        for role in ("mallory", "daemon", "bob", "carol"):
            name = f"gs{role[0]}{tag}"
            extra = ["-G", group] if role == "bob" else []
            subprocess.run(["useradd", "-r", "-M", "-U", "-s", "/usr/sbin/nologin", *extra, name],
                           check=True)
            made.append(name)
            entry = pwd.getpwnam(name)
            out[role] = Account(name, entry.pw_uid, entry.pw_gid,
                                tuple(os.getgrouplist(name, entry.pw_gid)))
        out["group"] = Account(group, -1, grp.getgrnam(group).gr_gid, ())
        yield out
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", group], check=False)


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder only root can write, that every user may enter (as /run)."""
    path = Path(tempfile.mkdtemp(prefix="gasstove-test-", dir="/run"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


_AS = """
import json, os, socket, sys
who = json.loads(sys.argv[1])
os.setgroups(who["groups"]); os.setgid(who["gid"]); os.setuid(who["uid"])
"""

#: Listens on a path and answers every line as a daemon would, saying what it got.
_FAKE_DAEMON = _AS + """
path = sys.argv[2]
if not os.path.isdir(os.path.dirname(path)):
    os.mkdir(os.path.dirname(path), 0o700)
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen()
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        got = conn.recv(65536)
        if got:
            print("got", got.decode().strip(), flush=True)
        answer = {"ok": True, "exit": 0, "burners": [{"burner": "left", "action": "shut_off",
                  "ok": True, "message": "FAKE: cut confirmed"}]}
        conn.sendall(json.dumps(answer).encode() + b"\\n")
"""

#: Sends one line, prints the answer (or {"connect": "denied"}).
_CLIENT = _AS + """
sock = socket.socket(socket.AF_UNIX)
try:
    sock.connect(sys.argv[2])
except PermissionError:
    print(json.dumps({"connect": "denied"}))
    sys.exit()
sock.sendall(sys.argv[3].encode() + b"\\n")
data = b""
while not data.endswith(b"\\n"):
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode().strip() or "{}")
"""


def _who(account: Account) -> str:
    return json.dumps({"uid": account.uid, "gid": account.gid, "groups": list(account.groups)})


@pytest.fixture
def fake_daemon() -> Iterator[Callable[[Account, Path], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(account: Account, path: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", _FAKE_DAEMON, _who(account), str(path)],
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(5)


def heard(proc: subprocess.Popen[str]) -> str:
    """Everything the fake daemon was sent."""
    proc.kill()
    out, _ = proc.communicate(5)
    return out


def ask_as(account: Account, path: Path, request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _CLIENT, _who(account), str(path),
                           json.dumps(request)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return cast(dict[str, Any], json.loads(done.stdout))


def stove(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def write_config(tmp_path: Path, sim: SimRelay, socket: Path) -> Path:
    config = tmp_path / "gasstove.yaml"
    config.write_text("stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n"
                      + burner_yaml("left", sim)
                      + f"daemon:\n  database: {tmp_path}/state/g.db\n  socket: {socket}\n")
    return config


# -- the CLI trusts only a daemon that is itself, root, or the socket folder's sole owner ------


@pytest.mark.parametrize("layout", ["world-writable folder", "own folder in a sticky /tmp",
                                    "symlink in a sticky /tmp"])
@pytest.mark.parametrize("args", [["off"], ["status", "--json"]])
def test_the_cli_refuses_another_users_fake_daemon(
    layout: str, args: list[str], accounts: dict[str, Account], base: Path, tmp_path: Path,
    miio_relay: Callable[..., SimRelay],
    fake_daemon: Callable[[Account, Path], subprocess.Popen[str]],
) -> None:
    """A neighbour got to the configured socket path first: `stove off` must not print its
    made-up answers and exit 0 (it did), nor send it anything, nor touch the stove."""
    shared = base / "shared"
    shared.mkdir()
    # world-writable: anyone may bind there; sticky: anyone may make the folder first
    shared.chmod(0o777 if layout == "world-writable folder" else 0o1777)
    path = shared / ("d.sock" if layout == "world-writable folder" else "gasstove/d.sock")
    if layout == "symlink in a sticky /tmp":  # the configured folder leads to mallory's
        (shared / "mallory").mkdir(mode=0o700)
        os.chown(shared / "mallory", accounts["mallory"].uid, -1)
        (shared / "gasstove").symlink_to(shared / "mallory")
    sim = miio_relay()
    config = write_config(tmp_path, sim, path)
    fake = fake_daemon(accounts["mallory"], path)
    done = stove(config, *args)
    assert "FAKE" not in done.stdout + done.stderr
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"error: {path} is answered by uid {accounts['mallory'].uid} {accounts['mallory'].name},"
        " not by you, root or the one user who controls that folder: not a daemon to trust;"
        " nothing was sent\n")
    assert heard(fake) == "", "the request went to the impostor"
    assert sim.device.requests == [], "nothing acted on the stove"


def test_the_cli_trusts_the_daemon_user_of_a_folder_only_root_could_give_it(
    accounts: dict[str, Account], base: Path, tmp_path: Path,
    miio_relay: Callable[..., SimRelay],
    fake_daemon: Callable[[Account, Path], subprocess.Popen[str]],
) -> None:
    """The systemd unit's layout: /run/gasstove (the daemon user's, 0750) in root's /run."""
    daemon = accounts["daemon"]
    runtime = base / "gasstove"
    runtime.mkdir(mode=0o750)
    os.chown(runtime, daemon.uid, accounts["group"].gid)
    path = runtime / "d.sock"
    config = write_config(tmp_path, miio_relay(), path)
    fake = fake_daemon(daemon, path)  # stands in for `stove serve` running as that user
    done = stove(config, "off")
    assert (done.returncode, done.stdout) == (0, "left  FAKE: cut confirmed\n")
    assert '"action": "off"' in heard(fake)


# -- the daemon's socket folder ---------------------------------------------------------------


def test_the_daemon_refuses_a_socket_folder_others_could_swap(
    accounts: dict[str, Account], base: Path,
) -> None:
    mallory = accounts["mallory"]
    cases: dict[str, str] = {}

    def folder(name: str, mode: int, owner: int = 0) -> Path:
        path = base / name
        path.mkdir()
        path.chmod(mode)
        os.chown(path, owner, -1)
        return path

    refused = {
        "world-writable": folder("open", 0o777) / "d.sock",
        "group-writable": folder("team", 0o770) / "d.sock",
        "another user's": folder("theirs", 0o700, mallory.uid) / "d.sock",
        "under a world-writable folder": folder("open2", 0o777) / "mine" / "d.sock",
        "under another user's folder": folder("home", 0o755, mallory.uid) / "mine" / "d.sock",
    }
    for case, path in refused.items():
        with pytest.raises(UsageError) as caught:
            asyncio_run(start_socket(cast(Daemon, None), path))
        cases[case] = str(caught.value)
        assert not path.exists(), case
    assert cases["world-writable"] == (
        f"refusing to put the control socket in {base}/open: it is writable by everyone "
        "(mode 0777); give it a folder only the daemon's user and root can change (daemon.socket)")
    assert cases["another user's"].startswith(
        f"refusing to put the control socket in {base}/theirs: it belongs to uid {mallory.uid} "
        f"{mallory.name}, not to this daemon's user (uid 0 root)")
    assert cases["under a world-writable folder"].startswith(
        f"refusing to put the control socket in {base}/open2/mine: {base}/open2 above it is "
        "writable by everyone (mode 0777), who could replace it")
    assert cases["under another user's folder"].startswith(
        f"refusing to put the control socket in {base}/home/mine: {base}/home above it belongs "
        f"to uid {mallory.uid} {mallory.name}, who could replace it")
    # its own folder in a sticky /tmp-style folder is safe: nobody else may rename it
    path = folder("tmp", 0o1777) / "mine" / "d.sock"
    server = asyncio_run(start_socket(cast(Daemon, None), path))
    server.close()
    assert path.parent.stat().st_mode & 0o777 == 0o700 and path.stat().st_mode & 0o777 == 0o600
    # a folder anyone may enter does not hand the stove to its group (only 0750 does)
    path = folder("public", 0o755) / "d.sock"
    server = asyncio_run(start_socket(cast(Daemon, None), path))
    server.close()
    assert path.stat().st_mode & 0o777 == 0o600


def asyncio_run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def test_stove_serve_in_a_world_writable_folder_exits_2_on_one_line(
    base: Path, tmp_path: Path, miio_relay: Callable[..., SimRelay],
) -> None:
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    config = write_config(tmp_path, miio_relay(), shared / "d.sock")
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and not (shared / "d.sock").exists()
    assert done.stderr.splitlines()[-1] == (
        f"error: refusing to put the control socket in {shared}: it is writable by everyone "
        "(mode 0777); give it a folder only the daemon's user and root can change (daemon.socket)")


# -- group access, as the systemd unit promises; who the history names -------------------------


@pytest.fixture
def served(base: Path, tmp_path: Path, miio_relay: Callable[..., SimRelay],
           accounts: dict[str, Account]) -> Iterator[tuple[Path, Path, SimRelay]]:
    """`stove serve` with its socket in a 0750 folder of the stove group (as RuntimeDirectory)."""
    runtime = base / "gasstove"
    runtime.mkdir(mode=0o750)
    os.chown(runtime, -1, accounts["group"].gid)
    path = runtime / "d.sock"
    sim = miio_relay()
    config = write_config(tmp_path, sim, path)
    with (tmp_path / "serve.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config), "serve"],
                                stderr=log, text=True)
    try:
        for _ in range(200):
            if path.exists():
                break
            time.sleep(0.05)
        yield config, path, sim
    finally:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        proc.kill()


def test_members_of_the_socket_folders_group_may_command_the_stove_and_others_may_not(
    served: tuple[Path, Path, SimRelay], accounts: dict[str, Account],
) -> None:
    config, path, sim = served
    bob, carol = accounts["bob"], accounts["carol"]
    assert path.stat().st_mode & 0o777 == 0o660 and path.stat().st_gid == accounts["group"].gid
    # bob is in the group (a supplementary group, not his primary one)
    reply = ask_as(bob, path, {"action": "lock", "burners": ["left"], "source": "cli",
                               "requested_by": "carol"})
    assert reply["ok"] and reply["burners"][0]["message"].startswith("locked")
    assert ask_as(carol, path, {"action": "unlock"}) == {"connect": "denied"}
    # the kernel keeps carol out; were folder and socket opened to everyone, the daemon still would
    path.parent.chmod(0o755)
    path.chmod(0o666)
    reply = ask_as(carol, path, {"action": "unlock"})
    assert reply == {"ok": False, "exit": 2, "error": (
        f"uid {carol.uid} {carol.name} may not command this stove: only the daemon's user, "
        f"root and members of group {accounts['group'].name}")}
    assert sim.device.energised, "carol's unlock did nothing: still locked"
    history = stove(config, "history", "--json")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(r["action"], r["source"], r["requested_by"]) for r in rows] == [
        ("lock", "cli", f"uid {bob.uid} {bob.name}")], "the uid the kernel saw, not the JSON's"


def test_mqtt_commands_are_recorded_as_from_the_broker_whatever_they_claim() -> None:
    remote = remote_for("kitchen", ["left"], topic=None, discovery_prefix=None)
    command = remote.parse("gasstove/kitchen/left/set",
                           b'{"action": "off", "source": "ha", "requested_by": "uid 0 root"}')
    assert (command.source, command.requested_by) == ("ha", "mqtt")
