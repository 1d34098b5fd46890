"""Which configuration file a process runs, so a command never acts through a daemon
that runs another one (issue 20 item 1).

A file is known by its real path (symlinks and relative parts resolved) and the
SHA-256 of its bytes. Content decides: a command whose file has the daemon's
bytes (the same file by any path, or a copy) is run by the daemon; any other,
including the daemon's own file edited since it started, is refused. Running
it one-shot instead would put two controllers on the same relays, with the
daemon's timers and records blind to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ConfigSource:
    path: str  #: the file's real path
    sha256: str  #: of its bytes as read

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}

    @classmethod
    def from_json(cls, obj: Any) -> ConfigSource:
        if not (isinstance(obj, dict) and set(obj) == {"path", "sha256"}
                and isinstance(obj["path"], str) and 0 < len(obj["path"]) <= 4096
                and isinstance(obj["sha256"], str) and _SHA256.fullmatch(obj["sha256"])):
            raise UsageError('config must be {"path": ..., "sha256": <64 hex digits>}')
        return cls(obj["path"], obj["sha256"])

    def shown(self) -> str:
        """The path for a one-line message (a line break in a file name stays quoted)."""
        return self.path if self.path.isprintable() else repr(self.path)


def refusal(running: ConfigSource, since: str, named: ConfigSource) -> str | None:
    """Why a command naming ``named`` must not be run by a daemon running ``running``
    (loaded at ``since``), or None when they are the same configuration."""
    if named.sha256 == running.sha256:
        return None
    if named.path == running.path:
        return (f"{running.shown()} changed since `stove serve` loaded it at {since}: the "
                "daemon still runs the old version, so nothing was done; restart `stove serve` "
                "to use the file as it is now")
    return (f"the running `stove serve` uses {running.shown()} (loaded at {since}), not "
            f"{named.shown()}: nothing was done; drop --config/$GASSTOVE_CONFIG to use the "
            "daemon's, or restart `stove serve` with that file")
