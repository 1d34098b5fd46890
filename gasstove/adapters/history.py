"""The event log: an append-only table in the daemon's SQLite file.

Writing it must never fail or delay a shut-off: every write is after the
action, on its own connection with a short busy timeout, and an error is
logged and swallowed. ``synchronous=NORMAL`` in WAL mode keeps the file
consistent through a crash (a power cut may lose the last rows, never
corrupt them) at a fraction of the cost of an fsync per row.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..domain.errors import GasstoveError, UsageError
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


class HistoryUnreadable(GasstoveError):
    """The history cannot be read now (another process holds it): try again (exit 1)."""


class HistoryDamaged(UsageError):
    """The history's file cannot be used: something to fix, not to retry (exit 2)."""


def read_events(path: Path, *, burners: Iterable[str] = (), since_ms: int | None = None,
                limit: int = 50) -> list[Event]:
    """Newest first, from a read-only connection (works while the daemon writes).

    Raises HistoryUnreadable or HistoryDamaged, one line each, when it cannot.
    """
    if not path.exists():
        return []
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
    try:
        rows = _select(path, sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []  # a database from before the log existed
        if err.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise HistoryUnreadable(f"the history in {path} cannot be read now: {err} "
                                    "(another process holds it); try again") from None
        raise HistoryDamaged(f"the history in {path} cannot be read: {err}") from None
    except sqlite3.DatabaseError as err:  # not a database, or damaged
        raise HistoryDamaged(f"the history in {path} cannot be read: {err}; move it away "
                             "to start afresh") from None
    return [Event(*row) for row in rows]


def _select(path: Path, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
    try:
        return _query(f"file:{path}?mode=ro", sql, args)
    except sqlite3.OperationalError as err:
        # A WAL database needs its shared-memory file, which a read-only file
        # system does not let anyone create; nobody can write there either, so
        # reading it as immutable (no locks) is safe.
        if err.sqlite_errorcode != sqlite3.SQLITE_CANTOPEN or not _read_only_fs(path):
            raise
    return _query(f"file:{path}?mode=ro&immutable=1", sql, args)


def _query(uri: str, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(uri, uri=True, timeout=2)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
