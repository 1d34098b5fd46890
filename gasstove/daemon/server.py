"""The daemon's local control socket: one JSON object per line each way.

Request: a command (see :mod:`gasstove.domain.commands`). Reply::

    {"ok": true, "exit": 0, "burners": [...]}          # per-burner results
    {"ok": false, "exit": 2, "error": "unknown burner 'x' (...)"}

The socket is owner-only (0600 in a 0700 directory): anyone who can write to
it can shut the stove off, and lock it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..domain.commands import decode_command, parse_command
from ..domain.errors import GasstoveError, UsageError
from .service import Daemon

_LOG = logging.getLogger("gasstove.daemon")
MAX_LINE = 64 * 1024


async def start_socket(daemon: Daemon, path: Path) -> asyncio.Server:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if await _answers(path):
            raise UsageError(f"another `stove serve` is already listening on {path}")
        path.unlink()  # left by a daemon that died
    old_umask = os.umask(0o177)  # created 0600: no window where others may connect
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve_client(daemon, r, w), path=str(path), limit=MAX_LINE
        )
    finally:
        os.umask(old_umask)
    return server


async def _answers(path: Path) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _serve_client(daemon: Daemon, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    who = _peer(writer)
    try:
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
            # local clients say which front end they are (cli, voice...)
            source = obj["source"][:16]
        command = parse_command(obj, source=source)
        if not command.requested_by and who:
            command = replace(command, requested_by=who)
        results = await daemon.handle(command)
    except GasstoveError as err:
        return {"ok": False, "exit": err.exit_code, "error": str(err)}
    except Exception:  # a bug must not take the daemon (and its timers) down
        _LOG.exception("internal error handling a command")
        return {"ok": False, "exit": 1, "error": "internal error in the daemon (see its log)"}
    ok = all(r["ok"] for r in results)
    return {"ok": ok, "exit": 0 if ok else 1, "burners": results}


async def _send(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


def _peer(writer: asyncio.StreamWriter) -> str:
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return ""
    _pid, uid, _gid = struct.unpack("3i", creds)
    return f"uid {uid}"
