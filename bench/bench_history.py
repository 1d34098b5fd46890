"""What writing the history adds to a cut, and what 100,000 rows cost on disk.

    .venv/bin/python bench/bench_history.py

A cut's history row is written after the cut (never in its way): this
measures that write, one event per transaction as a one-shot `stove off`
or a single timer firing does it, on the daemon's real file settings (WAL,
synchronous=NORMAL). Goal: p99 <= 2 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from gasstove.adapters.history import EventLog
from gasstove.adapters.store import Store
from gasstove.control import Outcome
from gasstove.domain.history import Event
from gasstove.records import Recorder

CUTS = 2000
ROWS = 100_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gasstove.db"
        Store(db).close()
        log = EventLog(db)
        recorder = Recorder("kitchen", log)
        outcome = Outcome("left", "shut_off", True, "resting", "shut off", cut_ms=12, restored=True)

        async def one_cut() -> float:
            start = time.perf_counter()
            await recorder.outcomes([outcome], source="cli", requested_by="uid 1000")
            return (time.perf_counter() - start) * 1000

        async def run() -> list[float]:
            return [await one_cut() for _ in range(CUTS)]

        costs = asyncio.run(run())
        log.prune(int(time.time() * 1000), keep_days=90, max_rows=0)
        batch = [recorder_event(i) for i in range(ROWS)]
        start = time.perf_counter()
        for i in range(0, ROWS, 1000):
            log.record(batch[i:i + 1000])
        fill_s = time.perf_counter() - start
        log.close()
        size = sum(p.stat().st_size for p in Path(tmp).glob("gasstove.db*"))
        print(f"{'what':<44} {'figure':>12}")
        print(f"{'history write per cut, p50':<44} {statistics.median(costs):>9.3f} ms")
        print(f"{'history write per cut, p99':<44} {percentile(costs, 0.99):>9.3f} ms")
        print(f"{'history write per cut, max':<44} {max(costs):>9.3f} ms")
        print(f"{'100,000 rows: time to write (batches of 1000)':<44} {fill_s:>10.2f} s")
        print(f"{'100,000 rows: file size (db + wal)':<44} {size / 1e6:>9.1f} MB")


def recorder_event(i: int) -> Event:
    return Event(1_800_000_000_000 + i, "kitchen", ("left", "right")[i % 2], "cut", "timer",
                 "set from ha by Alice", "confirmed", "", 10 + i % 40)


if __name__ == "__main__":
    main()
