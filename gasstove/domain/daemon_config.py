"""Where the daemon keeps its database and its control socket."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """systemd's StateDirectory, else $GASSTOVE_STATE_DIR, else XDG's state home."""
    for name in ("GASSTOVE_STATE_DIR", "STATE_DIRECTORY"):
        if env.get(name):
            return Path(env[name].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/state")
    return Path(base) / "gasstove"


class DaemonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: SQLite file holding timers (WAL mode). Default: <state dir>/gasstove.db
    database: Path | None = None
    #: Unix socket of `stove serve`, owner-only. Default: <state dir>/daemon.sock
    socket: Path | None = None

    def database_path(self, env: Mapping[str, str] = os.environ) -> Path:
        return (self.database or state_dir(env) / "gasstove.db").expanduser()

    def socket_path(self, env: Mapping[str, str] = os.environ) -> Path:
        return (self.socket or state_dir(env) / "daemon.sock").expanduser()
