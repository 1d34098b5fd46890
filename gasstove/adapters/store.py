"""The daemon's SQLite file: pending timers and locks, written before they are acknowledged.

WAL mode with ``synchronous=FULL``: a timer acknowledged to a user is on disk
and survives a kill -9 or a power cut. The timers of one command are one
transaction, so one fsync however many burners it arms. The daemon calls the
writing methods from its disk thread (:mod:`.disk`), never from its event loop.
One daemon per file: an exclusive lock file refuses a second ``stove serve`` on
the same database. With no daemon running, ``stove cancel`` takes that lock for
a moment to act on the stored timers, so whoever finds it taken waits a little before giving up.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from ..domain.errors import UsageError
from ..domain.timers import Timer

_LOG = logging.getLogger(__name__)

#: How long opening a store waits for another process to let go of it
#: (a `stove cancel` holds it for milliseconds; a daemon for its whole life).
LOCK_WAIT_S = 2.0

#: 1: timers, locks; 2: + events (the history)
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    burner TEXT PRIMARY KEY,
    due_at REAL NOT NULL,
    set_at REAL NOT NULL,
    source TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    firing INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS locks (
    burner TEXT PRIMARY KEY,
    locked_at REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    stove TEXT NOT NULL,
    burner TEXT NOT NULL,
    action TEXT NOT NULL,
    source TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    latency_ms INTEGER
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
"""


def create_schema(db: sqlite3.Connection) -> None:
    """Create what is missing, refusing a file from a newer gasstove."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"database written by a newer gasstove (schema {version})")
    db.executescript(_SCHEMA)
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


class StoreError(UsageError):
    """The database cannot be used; the daemon refuses to start rather than lose timers."""


class Store:
    def __init__(self, path: Path, *, wait: float = LOCK_WAIT_S) -> None:
        self.path = path
        self._lock_fd: int | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._take_lock(wait)
            # (used by one thread at a time: the daemon's disk thread once it serves)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=2,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise StoreError(f"{path}: database is damaged ({check})")
            try:
                create_schema(self._db)
            except StoreError as err:
                raise StoreError(f"{path}: {err}") from None
            # Marking a timer as firing and deleting a fired one need no fsync:
            # if a crash loses either, the timer is still on disk and fires
            # (again) on recovery, which is safe. Only an acknowledged new
            # timer must survive a power cut. A thousand timers due together
            # would otherwise queue a thousand fsyncs in the event loop.
            self._fast = sqlite3.connect(path, isolation_level=None, timeout=2,
                                         check_same_thread=False)
            self._fast.execute("PRAGMA synchronous=NORMAL")
            os.chmod(path, 0o600)
        except sqlite3.DatabaseError as err:
            self.close()
            raise StoreError(
                f"{path}: cannot use the timer database ({err}); move it away to start "
                "afresh, and check `stove status`: its pending timers are not loaded"
            ) from None
        except OSError as err:
            self.close()
            raise StoreError(f"{path}: {err.strerror or err}") from None

    def _take_lock(self, wait: float) -> None:
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    os.close(fd)
                    raise StoreError(f"{self.path}: another `stove serve` is using this "
                                     "database") from None
                time.sleep(0.02)
        self._lock_fd = fd

    def close(self) -> None:
        for name in ("_fast", "_db"):
            if db := getattr(self, name, None):
                db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- timers ---------------------------------------------------------------
    def timers(self) -> list[Timer]:
        try:
            return _timers(self._db)
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}") from None

    def put_timer(self, timer: Timer) -> None:
        """Store a new timer durably, or raise StoreError: it must not be acknowledged."""
        self.put_timers([timer])

    def put_timers(self, timers: Sequence[Timer]) -> None:
        """Store new timers durably, all or none (one transaction, one fsync), or raise
        StoreError: none of them may be acknowledged."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT OR REPLACE INTO timers VALUES (?, ?, ?, ?, ?, ?)",
                    [(t.burner, t.due_at, t.set_at, t.source, t.requested_by, int(t.firing))
                     for t in timers])
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}: the timer for {_names(timers)} was NOT "
                             "set") from None

    def mark_firing(self, timers: Sequence[Timer]) -> None:
        """Best effort: a timer whose mark is lost fires again on recovery, which is safe.

        It must never stop the shut-off (a database locked by a backup tool would
        otherwise swallow the cut).
        """
        self._best_effort("UPDATE timers SET firing = 1 WHERE burner = ? AND set_at = ?",
                          [(t.burner, t.set_at) for t in timers],
                          f"the firing mark of {_names(timers)}")

    def delete_fired(self, timers: Sequence[Timer]) -> None:
        """Delete fired timers, each only if it is still that timer; best effort (if lost,
        it fires once more on recovery)."""
        self._best_effort("DELETE FROM timers WHERE burner = ? AND set_at = ?",
                          [(t.burner, t.set_at) for t in timers],
                          f"the deletion of the fired timer of {_names(timers)}")

    def delete_timer(self, burner: str) -> None:
        """Delete ``burner``'s timer durably, or raise StoreError (or a cancelled timer
        could come back)."""
        try:
            self._db.execute("DELETE FROM timers WHERE burner = ?", (burner,))
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}: the timer for {burner} was NOT "
                             "cancelled") from None

    def delete_timers(self, timers: Sequence[Timer]) -> None:
        """Delete these timers durably, all or none, each only if it is still that timer
        (not one set since), or raise StoreError."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM timers WHERE burner = ? AND set_at = ?",
                                     [(t.burner, t.set_at) for t in timers])
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}: the timer for {_names(timers)} was NOT "
                             "cancelled") from None

    def _best_effort(self, sql: str, rows: list[tuple[object, ...]], what: str) -> None:
        try:
            with self._fast:
                self._fast.execute("BEGIN IMMEDIATE")
                self._fast.executemany(sql, rows)
        except sqlite3.Error as err:
            _LOG.error("%s: %s not written (%s); if the daemon restarts, the timer fires "
                       "again", self.path, what, err)

    # -- locks ----------------------------------------------------------------
    def take_locks(self) -> set[str]:
        """Locks an older gasstove recorded here (they now live in the burners' records,
        shared with one-shot commands), removed once read."""
        burners = _locks(self._db)
        if burners:
            self._db.execute("DELETE FROM locks")
        return burners


def read_stored(path: Path) -> list[Timer]:
    """The timers stored in ``path``, read-only, without taking the daemon's lock.

    For `stove status` when no daemon answers: what is pending that nothing fires.
    """
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            return _timers(db)
        finally:
            db.close()
    except sqlite3.Error as err:
        raise StoreError(f"{path}: {err}") from None


def _names(timers: Sequence[Timer]) -> str:
    return ", ".join(t.burner for t in timers[:3]) + (", ..." if len(timers) > 3 else "")


def _timers(db: sqlite3.Connection) -> list[Timer]:
    rows = db.execute(
        "SELECT burner, due_at, set_at, source, requested_by, firing FROM timers ORDER BY due_at"
    ).fetchall()
    return [Timer(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


def _locks(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT burner FROM locks")}
