"""Talk to a running `stove serve` over its Unix socket (one JSON line each way)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from ..domain.errors import GasstoveError, UsageError


class DaemonSilent(GasstoveError):
    """The daemon took the command but did not answer in time (exit 1: it may have acted)."""


def ask_daemon(path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """The daemon's reply, or None when no daemon listens on ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        except PermissionError:
            raise UsageError(f"{path}: permission denied (the daemon runs as another user)") from None
        except OSError as err:
            raise UsageError(f"{path}: {err.strerror or err}") from None
        try:
            sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise DaemonSilent(f"the daemon did not answer within {timeout:g} s; "
                               "check `stove status`") from None
    try:
        reply = json.loads(data)
    except json.JSONDecodeError:
        raise DaemonSilent("the daemon closed the connection without an answer") from None
    if not isinstance(reply, dict):
        raise DaemonSilent("the daemon sent an unreadable answer")
    return reply
