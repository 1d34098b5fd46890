"""Talk to a running `stove serve` over its Unix socket (one JSON line each way)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from ..adapters.local_socket import folder_owner, peer_of, user_label
from ..domain.errors import GasstoveError, UsageError


class DaemonSilent(GasstoveError):
    """The daemon took the command but did not answer in time (exit 1: it may have acted)."""


class UntrustedDaemon(UsageError):
    """Someone else answers on the socket path: nothing was sent (exit 2, as a bad setup)."""


def ask_daemon(path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """The daemon's reply, or None when no daemon listens on ``path``.

    Symlinks are resolved once, and the folder checked is the one connected to.
    """
    real = Path(os.path.realpath(path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(real))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        except PermissionError:
            raise UsageError(f"{path}: permission denied (the daemon runs as another user)") from None
        except OSError as err:
            raise UsageError(f"{path}: {err.strerror or err}") from None
        _trust(sock, path, real.parent)
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
        except OSError:  # it closed or died mid-command: it may have acted
            raise DaemonSilent("the daemon closed the connection without an answer; "
                               "check `stove status`") from None
    try:
        reply = json.loads(data)
    except json.JSONDecodeError:
        raise DaemonSilent("the daemon closed the connection without an answer") from None
    if not isinstance(reply, dict):
        raise DaemonSilent("the daemon sent an unreadable answer")
    return reply


def _trust(sock: socket.socket, path: Path, folder: Path) -> None:
    """Refuse a listener that is not this user, root, or the one user who alone controls the
    socket's folder (the daemon's user, as the systemd unit's /run/gasstove): anyone who
    could write in that folder, or got to a path in /tmp first, could answer there, and
    their made-up answers must not be shown as the stove's."""
    try:
        uid = peer_of(sock).uid
    except OSError as err:
        raise UntrustedDaemon(f"{path}: cannot check who answers there ({err}); nothing was sent"
                              ) from None
    if uid in (os.geteuid(), 0):
        return
    try:
        owner = folder_owner(folder)
    except OSError:
        owner = None
    if uid != owner:
        raise UntrustedDaemon(
            f"{path} is answered by {user_label(uid)}, not by you, root or the one user who "
            "controls that folder: not a daemon to trust; nothing was sent")
