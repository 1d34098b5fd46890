"""Timer precision with real clocks: 1 and N timers due at the same instant.

The daemon's own code (``Daemon`` on its SQLite store, ``Stove``, the
system clock) holds the timers; each burner's relay is an in-process relay
that confirms at once, so what is measured is the daemon's scheduling, its
store writes and the shut-off path, not a network. Lateness is the
daemon's own figure (fired instant minus deadline), as it logs it.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from gasstove.adapters.config_file import parse_config
from gasstove.adapters.store import Store
from gasstove.control import Outcome, Stove
from gasstove.daemon.clock import SystemClock
from gasstove.daemon.service import Daemon
from gasstove.domain.commands import parse_command
from gasstove.domain.timers import Timer


class InstantRelay:
    """Confirms every request at once, like a relay on a very fast LAN."""

    def __init__(self) -> None:
        self.energised = False

    def describe(self) -> str:
        return "in-process"

    async def identify(self, *, deadline: float) -> str:
        return "in-process"

    async def read(self, *, deadline: float) -> bool:
        return self.energised

    async def switch(self, energised: bool, *, deadline: float, pulse_seconds: float | None = None) -> None:
        self.energised = energised

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        return None

    async def close(self) -> None:
        return None


async def _spread(count: int, delay_s: float, tmp: Path) -> list[float]:
    burners = "".join(
        f"    b{i:05d}:\n      cut_seconds: 1s\n"
        f"      relay: {{type: miio, host: 127.1.{i // 250}.{i % 250 + 1}, "
        "token: 00112233445566778899aabbccddeeff}\n"
        for i in range(count)
    )
    config = parse_config(f"stove:\n  burners:\n{burners}")
    stove = Stove(config.stove, {name: InstantRelay() for name in config.stove.burners})
    store = Store(tmp / f"timers-{count}.db")
    daemon = Daemon(stove, store, SystemClock())
    late: list[float] = []
    done = asyncio.Event()

    def fired(timer: Timer, outcome: Outcome, lateness: float) -> None:
        late.append(lateness)
        if len(late) == count:
            done.set()

    daemon.fired.append(fired)
    daemon.start()
    # one command for all burners: every timer gets the same deadline
    await daemon.handle(parse_command({"action": "off", "burners": ["all"], "delay_s": delay_s},
                                      source="bench"))
    await asyncio.wait_for(done.wait(), delay_s + 120)
    await daemon.stop()
    store.close()
    return sorted(late)


def run(counts: tuple[int, ...] = (1, 1000)) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            start = time.perf_counter()
            late = asyncio.run(_spread(count, 2.0, Path(tmp)))
            p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
            rows.append((f"{count} timer(s) due at once: lateness",
                         f"p50 {statistics.median(late) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                         f"max {late[-1] * 1000:.1f} ms (target p99 <= 100 ms; "
                         f"run {time.perf_counter() - start:.1f} s)"))
    return rows


if __name__ == "__main__":
    for name, value in run():
        print(f"{name:<58} {value}")
