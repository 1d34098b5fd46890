"""The event log: an append-only table in the daemon's SQLite file.

Writing it must never fail or delay a shut-off: every write is after the
action, on its own connection with a short busy timeout, and an error is
logged and swallowed. ``synchronous=NORMAL`` in WAL mode keeps the file
consistent through a crash (a power cut may lose the last rows, never
corrupt them) at a fraction of the cost of an fsync per row.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ..domain.history import Event
from .store import create_schema

_LOG = logging.getLogger(__name__)

_COLUMNS = "at_ms, stove, burner, action, source, requested_by, result, reason, latency_ms"


class EventLog:
    """Append and prune; for a daemon or a one-shot `stove off`."""

    def __init__(self, path: Path, *, busy_timeout: float = 0.2) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        create_schema(self._db)
        path.chmod(0o600)

    @classmethod
    def open(cls, path: Path) -> EventLog | None:
        """The log, or None (logged) when it cannot be opened: never an obstacle to a cut."""
        try:
            return cls(path)
        except (sqlite3.Error, OSError) as err:
            _LOG.warning("history not recorded: cannot open %s (%s)", path, err)
            return None

    def record(self, events: Iterable[Event]) -> None:
        rows = [(e.at_ms, e.stove, e.burner, e.action, e.source, e.requested_by, e.result,
                 e.reason, e.latency_ms) for e in events]
        if not rows:
            return
        try:
            with self._db:  # one transaction for a batch (a thousand timers firing)
                self._db.execute("BEGIN")
                self._db.executemany(
                    f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as err:
            _LOG.warning("history: %d event(s) not recorded (%s)", len(rows), err)

    def prune(self, now_ms: int, *, keep_days: float, max_rows: int) -> int:
        """Drop events older than ``keep_days`` and beyond the newest ``max_rows``."""
        try:
            with self._db:
                self._db.execute("BEGIN")
                old = self._db.execute("DELETE FROM events WHERE at_ms < ?",
                                       (now_ms - int(keep_days * 86_400_000),)).rowcount
                extra = self._db.execute(
                    "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC "
                    "LIMIT 1 OFFSET ?)", (max_rows,)).rowcount
        except sqlite3.Error as err:
            _LOG.warning("history not pruned (%s)", err)
            return 0
        return int(old + extra)

    def close(self) -> None:
        self._db.close()


def read_events(path: Path, *, burners: Iterable[str] = (), since_ms: int | None = None,
                limit: int = 50) -> list[Event]:
    """Newest first, from a read-only connection (works while the daemon writes)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        where: list[str] = []
        args: list[object] = []
        names = list(burners)
        if names:
            where.append(f"burner IN ({', '.join('?' for _ in names)})")
            args += names
        if since_ms is not None:
            where.append("at_ms >= ?")
            args.append(since_ms)
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []  # a database from before the log existed
        raise
    finally:
        db.close()
    return [Event(*row) for row in rows]
