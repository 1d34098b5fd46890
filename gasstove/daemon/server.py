"""The daemon's local control socket: one JSON object per line each way.

Request: a command (see :mod:`gasstove.domain.commands`). Reply::

    {"ok": true, "exit": 0, "burners": [...]}          # per-burner results
    {"ok": false, "exit": 2, "error": "unknown burner 'x' (...)"}

A status reply also says which configuration file the daemon runs, since when,
and its pid: ``"daemon": {...}`` (:meth:`Daemon.about`).

Anyone who can write to the socket can shut the stove off, and lock it. Its
folder must be the daemon user's and writable by it alone (checked at start,
with every folder above it). The socket is 0600, or 0660 with the folder's
group when the folder lets its group in and nobody else (0750, as the systemd
unit's RuntimeDirectory): the folder decides who may command the stove. Each
connection is checked too (the daemon's user, root, that group), and the
history names the user the kernel reports, never one the client claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..adapters.local_socket import group_access, peer_groups, peer_of, unsafe_folder, user_label
from ..domain.commands import MAX_COMMAND_BYTES, decode_command, parse_command
from ..domain.errors import GasstoveError, UsageError
from .service import Daemon

_LOG = logging.getLogger("gasstove.daemon")
#: One request line: the same bound as a command on MQTT.
MAX_LINE = MAX_COMMAND_BYTES


async def start_socket(daemon: Daemon, path: Path) -> asyncio.Server:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(os.path.realpath(path.parent)) / path.name
    if problem := unsafe_folder(path.parent, os.geteuid()):
        raise UsageError(f"refusing to put the control socket in {path.parent}: {problem}; give "
                         "it a folder only the daemon's user and root can change (daemon.socket)")
    group = group_access(path.parent)
    if path.exists() or path.is_symlink():
        if await _answers(path):
            raise UsageError(f"another `stove serve` is already listening on {path}")
        path.unlink()  # left by a daemon that died
    old_umask = os.umask(0o177)  # created 0600: no window where others may connect
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve_client(daemon, r, w, group), path=str(path), limit=MAX_LINE
        )
    finally:
        os.umask(old_umask)
    if group is not None:
        try:
            os.chown(path, -1, group)
            os.chmod(path, 0o660)
        except OSError as err:
            server.close()
            path.unlink(missing_ok=True)
            raise UsageError(f"{path.parent} lets group {_group_name(group)} in, but the socket "
                             f"cannot be given to it ({err.strerror}); chmod 0700 the folder, "
                             "or run the daemon as a member of that group") from None
    return server


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


async def _answers(path: Path) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _serve_client(daemon: Daemon, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter, group: int | None) -> None:
    try:
        who, refusal = _admit(writer.get_extra_info("socket"), group)
        if refusal:
            _LOG.warning("socket: refused a connection: %s", refusal)
            with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
                await reader.readline()  # unread, then answered: the client reads the refusal
            await _send(writer, {"ok": False, "exit": 2, "error": refusal})
            return
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                await _send(writer, {"ok": False, "exit": 2, "error": "request line too long"})
                return
            if not line:
                return
            await _send(writer, await handle_line(daemon, line, who))
    except (ConnectionError, BrokenPipeError):
        return
    finally:
        writer.close()


async def handle_line(daemon: Daemon, line: bytes, who: str, *, source: str = "socket") -> dict[str, Any]:
    """Decode, validate and run one command; every failure is a one-line reply."""
    try:
        obj = decode_command(line)
        if isinstance(obj, dict) and isinstance(obj.get("source"), str) and source == "socket":
            # local clients say which front end they are (cli, voice...): a label, while
            # who asked is the user the kernel reports
            source = obj["source"][:16]
        command = parse_command(obj, source=source, requested_by=who)
        results = await daemon.handle(command)
    except GasstoveError as err:
        return {"ok": False, "exit": err.exit_code, "error": str(err)}
    except Exception:  # a bug must not take the daemon (and its timers) down
        _LOG.exception("internal error handling a command")
        return {"ok": False, "exit": 1, "error": "internal error in the daemon (see its log)"}
    ok = all(r["ok"] for r in results)
    reply: dict[str, Any] = {"ok": ok, "exit": 0 if ok else 1, "burners": results}
    if command.action == "status":
        reply["daemon"] = daemon.about()
    return reply


async def _send(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


def _admit(sock: Any, group: int | None) -> tuple[str, str]:
    """(who, why refused): the peer's user as the kernel reports it; refused unless it is the
    daemon's user, root, or a member of the socket's group."""
    try:
        peer = peer_of(sock)
    except OSError as err:
        return "", f"cannot check who is connecting ({err})"
    who = user_label(peer.uid)
    if peer.uid in (os.geteuid(), 0) or (group is not None and group in peer_groups(sock, peer)):
        return who, ""
    allowed = f"members of group {_group_name(group)}" if group is not None else "nobody else"
    return who, (f"{who} may not command this stove: only the daemon's user, root and "
                 f"{allowed}")
