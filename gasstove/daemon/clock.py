"""The daemon's clocks, injectable so tests never wait for a real 20 minutes."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> float:
        """Unix time: what deadlines are stored as."""
        ...

    def monotonic(self) -> float:
        """What deadlines are waited on with: never jumps."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
