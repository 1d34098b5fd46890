"""Configuration defaults the daemon's clients need, and where the daemon keeps its files.

Free of pydantic on purpose: a client of a running daemon reads these
without building the configuration models (see
:func:`gasstove.adapters.config_file.daemon_route`); the models use the same
values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STOVE_NAME = "stove"
#: Overall time a shut-off may take to be confirmed, and its bounds.
DEADLINE_S = 5.0
DEADLINE_BOUNDS = (0.5, 60.0)
#: How long a cut holds the loop open, and its bounds.
CUT_SECONDS = 3.0
CUT_BOUNDS = (1.0, 60.0)


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """systemd's StateDirectory, else $GASSTOVE_STATE_DIR, else XDG's state home."""
    for name in ("GASSTOVE_STATE_DIR", "STATE_DIRECTORY"):
        if env.get(name):
            return Path(env[name].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/state")
    return Path(base) / "gasstove"


def socket_path(configured: Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """The daemon's control socket: the configured path, else <state dir>/daemon.sock."""
    return (configured or state_dir(env) / "daemon.sock").expanduser()
