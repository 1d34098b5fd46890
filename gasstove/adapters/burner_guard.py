"""Each burner's record, shared by every process that acts on it: its lock, a pulse not yet
ended, and who is acting on it now.

:class:`gasstove.control.Stove` holds a burner here for the whole of an action
(a pulse included), so a ``stove lock`` from one process cannot be undone by
the restore of a pulse another process started (issue 13, item 6). The record
says whether a lock was asked for (so a shut-off of a locked burner holds it
instead of ending with a restore) and whether a pulse timed by us was cut and
not yet restored (so one cut short by a crash is found and finished, item 7).

On disk, one small file per burner in one directory (next to the daemon's
database, so the CLI and the daemon of one configuration share it),
``<burner>.record``:

- whoever acts holds it with an exclusive ``flock``. The kernel drops it with
  the process, so a crash never leaves a burner held;
- it holds the record (JSON padded to a fixed size, rewritten in place by the
  holder only). A change of lock is fsync'd: it must survive a power cut. A
  pulse is not: it must survive the death of the process, which a write to
  the kernel does; a power cut that loses one leaves at worst a relay left
  cutting with nothing recorded, the safe side, which ``stove status`` shows
  and ``stove unlock`` ends. One file, already open, and no fsync per pulse:
  a thousand burners cut at once are not delayed by their records (a new
  file or an fsync costs 0.1-1 ms each).

Nothing here may stop a cut: a record that cannot be written (a full disk)
is logged at ERROR, the action goes on, and the writer is told, so a lock or
an unlock says it was not recorded. The record is then kept in this process
(a daemon honours it until it stops) and written again at the next hold; a
lock file that cannot be opened leaves the burner guarded in this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ..domain.errors import GasstoveError

_LOG = logging.getLogger(__name__)

#: How often a process waiting for a burner held by another one tries again.
RETRY_S = 0.02
#: Record files kept open get descriptors from here up (see FileBurnerGuard._open).
KEPT_FD = 1024
#: A record's size on disk (its JSON is far shorter: "by" is "pid <n>").
RECORD_BYTES = 256


@dataclass(frozen=True)
class Pulse:
    """A pulse timed by us: cut, and not yet confirmed restored."""

    since: float  #: wall-clock time the cut was about to be sent
    by: str  #: who cut ("pid 1234"), for messages


@dataclass(frozen=True)
class BurnerRecord:
    #: A lock was asked for and no unlock has been confirmed since.
    locked: bool = False
    pulse: Pulse | None = None

    def with_pulse(self, pulse: Pulse | None) -> BurnerRecord:
        return replace(self, pulse=pulse)


class BurnerBusy(GasstoveError):
    """Another action on the burner did not end in time: this one was not started."""


class Hold(Protocol):
    """A burner held for one action: its record as found, and a way to change it."""

    record: BurnerRecord

    def write(self, record: BurnerRecord, *, sync_later: bool = False) -> str | None:
        """Make ``record`` the burner's record, durably (nothing if unchanged); never raises.

        Returns why it could not be written to disk (kept in this process only), or None.
        ``sync_later``: written for every process now, made durable by :meth:`sync`
        (a lock's fsync must not delay its cut).
        """
        ...

    def sync(self) -> str | None:
        """Make a ``sync_later`` write durable; why it could not be, or None."""
        ...


class BurnerGuard(Protocol):
    def hold(self, burner: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[Hold]:
        """Hold ``burner`` for one action, waiting at most ``wait`` seconds for
        another holder; raise :class:`BurnerBusy` if it does not let go in time."""
        ...

    def record(self, burner: str) -> BurnerRecord:
        """The burner's record as it is now (without holding it)."""
        ...

    def busy(self, burner: str) -> bool:
        """Whether someone is acting on the burner now."""
        ...


class _MemoryHold(contextlib.AbstractAsyncContextManager["_MemoryHold"]):
    """One hold of a burner in this process: taken on entry, let go on exit. A plain
    object rather than an async generator: ten thousand burners held at once (an
    ``off`` of all) each kept a generator's frame and registration (issue 17)."""

    __slots__ = ("burner", "guard", "record")

    def __init__(self, guard: MemoryBurnerGuard, burner: str) -> None:
        self.guard, self.burner = guard, burner
        self.record = BurnerRecord()

    async def __aenter__(self) -> _MemoryHold:
        self.guard._held.add(self.burner)
        self.record = self.guard.record(self.burner)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.guard._held.discard(self.burner)

    def write(self, record: BurnerRecord, *, sync_later: bool = False) -> str | None:
        self.record = self.guard._records[self.burner] = record
        if record == BurnerRecord():
            del self.guard._records[self.burner]
        return None

    def sync(self) -> str | None:
        return None


class MemoryBurnerGuard:
    """Records in this process only, lost when it ends: for one process that owns its
    relays (and tests). The Stove's own per-burner lock already serialises its actions."""

    def __init__(self) -> None:
        self._records: dict[str, BurnerRecord] = {}
        self._held: set[str] = set()

    def hold(self, burner: str, *, wait: float) -> _MemoryHold:
        return _MemoryHold(self, burner)

    def record(self, burner: str) -> BurnerRecord:
        return self._records.get(burner, BurnerRecord())

    def busy(self, burner: str) -> bool:
        return burner in self._held


class _FileHold(contextlib.AbstractAsyncContextManager["_FileHold"]):
    """One hold of a burner through its record file: its flock taken and its record read
    on entry, let go on exit (a plain object: see _MemoryHold)."""

    __slots__ = ("burner", "fd", "guard", "path", "record", "unsynced", "wait")

    def __init__(self, guard: FileBurnerGuard, burner: str, wait: float) -> None:
        self.guard, self.burner, self.wait = guard, burner, wait
        self.path = guard._path(burner)
        self.record = BurnerRecord()
        self.fd: int | None = None  #: None: the file could not be opened, nothing is written
        self.unsynced = False  #: a durable write is waiting for sync()

    async def __aenter__(self) -> _FileHold:
        self.fd = await self.guard._take(self.burner, self.wait)
        try:
            unsaved = self.guard._unsaved.get(self.burner)
            if unsaved is not None:
                self.write(unsaved, force=True)  # (there may be room again)
            else:
                self.record = (self.guard.record(self.burner) if self.fd is None
                               else _read(self.fd, self.path))
        except BaseException:
            self.guard._let_go(self.burner, self.fd)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.guard._let_go(self.burner, self.fd)

    def write(self, record: BurnerRecord, *, force: bool = False,
              sync_later: bool = False) -> str | None:
        if record == self.record and not force:
            return None
        durable = force or record.locked != self.record.locked
        self.record = record
        self.unsynced = durable and sync_later
        return self._stored(_store(self.fd, self.path, record,
                                   durable=durable and not sync_later))

    def sync(self) -> str | None:
        if not self.unsynced:
            return None
        self.unsynced = False
        return self._stored(_store(self.fd, self.path, self.record, durable=True))

    def _stored(self, why: str | None) -> str | None:
        if why is None:
            self.guard._unsaved.pop(self.burner, None)
            return None
        self.guard._unsaved[self.burner] = self.record
        _LOG.error("%s: not written (%s): locked=%s, pulse under way=%s; kept by this "
                   "process only", self.path, why, self.record.locked,
                   self.record.pulse is not None)
        return why


def _store(fd: int | None, path: str, record: BurnerRecord, *, durable: bool) -> str | None:
    """Write ``record``; why not, if it could not be."""
    try:
        if fd is None:
            raise OSError(f"{path} could not be opened")
        os.pwrite(fd, _encode(record), 0)
        if durable:
            os.fdatasync(fd)
    except OSError as err:
        return str(err.strerror or err)
    return None


class FileBurnerGuard:
    """Records and exclusion shared by every process using ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        #: Records that could not be written (a full disk): they win over the file's.
        self._unsaved: dict[str, BurnerRecord] = {}
        #: Each burner's record file, opened once and kept (its flock is taken and
        #: dropped per hold): ten thousand burners cut at once spent a quarter of the
        #: daemon's time opening, creating and closing them (issue 17).
        self._fds: dict[str, int] = {}
        #: Burners held through this guard now: a kept file is one open file for the
        #: whole process, and its flock does not exclude a second holder in it.
        self._held: set[str] = set()
        #: Each record's path, joined once (pathlib's join cost a cut of every one of
        #: ten thousand burners ~0.1 s, twice per hold).
        self._paths: dict[str, str] = {}
        self._folder = str(directory)

    def _path(self, burner: str) -> str:
        # (a str, not a Path: a Path and its parts are ~400 B more per burner, kept)
        path = self._paths.get(burner)
        if path is None:
            path = self._paths[burner] = os.path.join(self._folder, f"{burner}.record")
        return path

    def hold(self, burner: str, *, wait: float) -> _FileHold:
        return _FileHold(self, burner, wait)

    def _let_go(self, burner: str, fd: int | None) -> None:
        self._held.discard(burner)
        if fd is not None and self._fds.get(burner) == fd:
            fcntl.flock(fd, fcntl.LOCK_UN)
        elif fd is not None:
            os.close(fd)  # (closing drops the flock)

    def open_all(self, burners: Iterable[str]) -> None:
        """Open (create) the burners' record files ahead of their first action: creating
        ten thousand of them took 2 s of a cut of every burner (issue 17)."""
        for burner in burners:
            with contextlib.suppress(OSError):  # said when the burner is acted on
                self._open(burner)

    def _open(self, burner: str) -> int:
        """The burner's record file, kept open; opened again if the path no longer names
        it (deleted or replaced: others would lock the new file)."""
        fd = self._fds.get(burner)
        path = self._path(burner)
        if fd is not None:
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
            os.close(fd)
            del self._fds[burner]
        if not self._fds:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Kept files live at or above KEPT_FD: paho watches its socket with
            # select(), which fails for a descriptor past 1023, so the low numbers
            # stay free for the next MQTT connection.
            kept = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, KEPT_FD)
        except OSError:
            return fd  # no room up there (a low file limit): not kept, closed after use
        os.close(fd)
        self._fds[burner] = kept
        return kept

    async def _take(self, burner: str, wait: float) -> int | None:
        # Polled, not a blocking flock: the event loop (the daemon's timers, a
        # cancel) goes on while we wait, and the wait stays bounded.
        give_up = time.monotonic() + wait
        while True:
            fd: int | None = None
            if burner not in self._held:  # (its kept file is in use: leave it alone)
                try:
                    fd = self._open(burner)
                except OSError as err:
                    _LOG.error("%s: cannot guard %s against other processes nor keep its "
                               "record (%s); acting anyway", self.directory, burner,
                               err.strerror or err)
                    return None
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._held.add(burner)
                    return fd
                except BlockingIOError:
                    if self._fds.get(burner) != fd:
                        os.close(fd)
            if time.monotonic() >= give_up:
                raise BurnerBusy(
                    f"another action on {burner} (another stove command or the daemon) "
                    f"did not end within {wait:.1f} s; nothing was done") from None
            await asyncio.sleep(RETRY_S)

    def _retry(self, burner: str, record: BurnerRecord) -> None:
        """Write a record kept in memory, if there is room again and nobody holds the
        burner (a holder writes it itself): a daemon's status polls get it to disk."""
        try:
            fd = os.open(self._path(burner), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _store(fd, self._path(burner), record, durable=True) is None:
                del self._unsaved[burner]
                _LOG.warning("%s: written now (locked=%s)", self._path(burner), record.locked)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)

    def busy(self, burner: str) -> bool:
        try:
            fd = os.open(self._path(burner), os.O_RDONLY)
        except OSError:
            return False  # never acted on
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # (drops the probe's flock at once)
        return False

    def record(self, burner: str) -> BurnerRecord:
        if (unsaved := self._unsaved.get(burner)) is not None:
            self._retry(burner, unsaved)
            return unsaved
        path = self._path(burner)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return BurnerRecord()
        except OSError as err:
            return _damaged(path, err)
        try:
            return _read(fd, path)
        finally:
            os.close(fd)


def _encode(record: BurnerRecord) -> bytes:
    pulse = None if record.pulse is None else {"since": record.pulse.since, "by": record.pulse.by}
    text = json.dumps({"locked": record.locked, "pulse": pulse}, ensure_ascii=True)
    return text.encode().ljust(RECORD_BYTES)  # fixed size: a rewrite leaves no old tail


def _read(fd: int, path: str) -> BurnerRecord:
    # A reader that does not hold the burner may meet a rewrite half done:
    # read again before calling the record damaged.
    for _ in range(3):
        try:
            data = os.pread(fd, RECORD_BYTES * 2, 0)
            if not data.strip():
                return BurnerRecord()  # created, never written
            fields = json.loads(data)
            pulse = fields["pulse"]
            return BurnerRecord(
                locked=fields["locked"] is True,
                pulse=None if pulse is None else Pulse(float(pulse["since"]), str(pulse["by"])))
        except (OSError, ValueError, TypeError, KeyError) as err:
            error: Exception = err
    return _damaged(path, error)


def _damaged(path: str, err: Exception) -> BurnerRecord:
    # Taken as locked, the side that never lets gas on: a shut-off holds the
    # loop open, and nothing restores it unasked.
    _LOG.error("%s: unreadable (%s); taken as locked until `stove unlock`", path, err)
    return BurnerRecord(locked=True)
