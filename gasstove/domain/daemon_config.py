"""Where the daemon keeps its database and its control socket."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .defaults import socket_path, state_dir
from .fields import seconds_field


class DaemonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: SQLite file holding timers (WAL mode). Default: <state dir>/gasstove.db
    database: Path | None = None
    #: Unix socket of `stove serve`. Default: <state dir>/daemon.sock. Its folder must be
    #: the daemon user's alone (0700, or 0750 to let the folder's group command the stove).
    socket: Path | None = None
    #: With an ``mqtt:`` broker: the daemon's command/state topics live under
    #: this. Default: gasstove/<stove name>
    mqtt_topic: str | None = Field(default=None, pattern=r"^[^#+\x00]{1,100}$")
    #: Home Assistant MQTT discovery prefix; null turns discovery off.
    discovery_prefix: str | None = Field(default="homeassistant", pattern=r"^[^#+/\x00]{1,64}$")
    #: History: events older than this many days are pruned...
    history_days: float = Field(default=90, ge=1, le=3650)
    #: ...and only this many of the newest are kept, so the file never grows without bound.
    history_rows: int = Field(default=100_000, ge=100, le=10_000_000)
    #: How often every relay is read to refresh reachability and state.
    poll_interval: Annotated[float, seconds_field(5, 3600)] = 60.0

    def database_path(self, env: Mapping[str, str] = os.environ) -> Path:
        return (self.database or state_dir(env) / "gasstove.db").expanduser()

    def burners_path(self, env: Mapping[str, str] = os.environ) -> Path:
        """Each burner's lock and pulse record, shared by the daemon and one-shot commands
        (:mod:`gasstove.adapters.burner_guard`); beside the database: one per stove."""
        database = self.database_path(env)
        return database.with_name(f"{database.stem}.burners")

    def socket_path(self, env: Mapping[str, str] = os.environ) -> Path:
        return socket_path(self.socket, env)
