"""An injectable clock for the daemon (virtual minutes pass in milliseconds), and real
`stove serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class FakeClock:
    """Wall and monotonic time that move only when the test says so.

    ``advance`` wakes sleepers in deadline order and yields real time in
    between, so the I/O a woken task starts (real UDP to a simulated relay)
    completes and any sleep it begins next is scheduled before time moves on.
    """

    def __init__(self, wall: float = 1_800_000_000.0) -> None:
        self._wall = wall
        self._mono = 1000.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), future))
        await future

    def jump_wall(self, seconds: float) -> None:
        """NTP or a person changed the clock: only wall time moves."""
        self._wall += seconds

    async def advance(self, seconds: float, *, settle: float = 0.03) -> None:
        target = self._mono + seconds
        while True:
            await asyncio.sleep(settle)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled sleeper
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, future = heapq.heappop(self._sleepers)
            self._move_to(deadline)
            future.set_result(None)
        self._move_to(target)
        await asyncio.sleep(settle)

    async def advance_until(self, done: Callable[[], bool], *, limit: float = 30.0) -> None:
        """Advance in half-second steps until ``done()``: for work that also waits on real I/O
        (a loaded machine may take longer than one settle to answer over UDP)."""
        moved = 0.0
        while not done():
            if moved >= limit:
                raise AssertionError(f"not done after {limit} virtual seconds")
            await self.advance(0.5)
            moved += 0.5

    def _move_to(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += mono - self._mono
            self._mono = mono


@pytest.fixture
def serve() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(config: Path) -> subprocess.Popen[str]:
        """Start `stove serve`; its log goes to serve-<n>.log beside the config."""
        with (config.parent / f"serve-{len(procs)}.log").open("w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "gasstove", "-c", str(config),
                                     "serve"], stderr=log, text=True)
        procs.append(proc)
        for _ in range(200):  # a killed daemon leaves its socket file: wait for an answer
            with socket.socket(socket.AF_UNIX) as sock, contextlib.suppress(OSError):
                sock.connect(str(config.parent / "d.sock"))
                return proc
            time.sleep(0.05)
        raise AssertionError("the daemon did not start")

    yield start
    for proc in procs:
        proc.kill()  # a no-op for one already dead
        proc.wait(10)
