"""The daemon's disk writes, off its event loop: one worker thread, in order, batched.

A fsync takes 0.1 ms to tens of ms on a loaded machine; in the event loop it
would hold up every timer, command and MQTT message behind it. Every write of
the daemon (timers, history) goes through one :class:`DiskWriter`, so writes
happen in the order they were asked for. A write someone must wait for (a new
timer is not acknowledged before it is on disk) is awaited with :meth:`run`;
best-effort writes (a firing mark, a fired timer's deletion, history rows)
are queued with :meth:`later`, and those queued in one turn of the loop (a
thousand timers coming due together) go to disk in one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from ..domain.history import Event

_LOG = logging.getLogger(__name__)

T = TypeVar("T")
Batch = Callable[[list[Any]], None]


class DiskWriter:
    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gasstove-disk")
        self._queued: list[tuple[Batch, Any]] = []
        self._last: Future[Any] | None = None
        self._closed = False
        #: Best-effort writes asked for so far (to tell whether a piece of work asked any).
        self.asked = 0

    async def run(self, write: Callable[..., T], *args: Any) -> T:
        """Run ``write(*args)`` after everything queued so far; its result or its exception."""
        self._flush()
        return await asyncio.wrap_future(self._submit(write, *args))

    def later(self, write: Batch, item: Any) -> None:
        """Queue ``item`` for ``write``, called with every item queued in this turn of the loop.

        ``write`` must not raise (best effort: it logs what it could not write).
        """
        if not self._queued and not self._closed:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queued.append((write, item))
        self.asked += 1
        if self._closed:
            self._flush()

    async def written(self) -> None:
        """Return once everything asked for so far is on disk (or failed)."""
        self._flush()
        if self._last is not None:
            await asyncio.wait([asyncio.wrap_future(self._last)])

    async def close(self) -> None:
        """Write what is queued and stop the thread; a write asked for after this is
        done at once, in the caller's thread (a last history row as the daemon stops)."""
        await self.written()
        self._closed = True
        self._thread.shutdown(wait=True)

    def _flush(self) -> None:
        """Hand the queued items to the thread: one call per ``write``, in the order each
        was first asked for. Writes queued in one turn must not depend on each other's
        order (each names the rows it changes: a firing mark that comes after its
        timer's deletion changes nothing)."""
        batches: dict[Batch, list[Any]] = {}
        for write, item in self._queued:
            batches.setdefault(write, []).append(item)
        self._queued = []
        for write, items in batches.items():
            self._submit(_best_effort, write, items)

    def _submit(self, write: Callable[..., T], *args: Any) -> Future[T]:
        if self._closed:
            future: Future[T] = Future()
            try:
                future.set_result(write(*args))
            except Exception as err:
                future.set_exception(err)
            return future
        self._last = future = self._thread.submit(write, *args)
        return future


def _best_effort(write: Batch, items: Iterable[Any]) -> None:
    try:
        write(list(items))
    except Exception:  # a bug here must not stop the writes after it
        _LOG.exception("internal error writing to disk")


class EventSink(Protocol):
    def record(self, events: Iterable[Event]) -> None: ...


class BackgroundSink:
    """An event sink (the history) written by a :class:`DiskWriter`: never in the loop."""

    def __init__(self, sink: EventSink, writer: DiskWriter) -> None:
        self._sink = sink
        self._writer = writer

    def record(self, events: Iterable[Event]) -> None:
        for event in events:
            self._writer.later(self._sink.record, event)
