"""Timer precision with real clocks: N timers armed by one command, due at the same instant.

The daemon's own code (``Daemon`` on its SQLite store in a real file,
``Stove``, the system clock) holds the timers; each burner's relay is an
in-process relay that confirms at once, so what is measured is the daemon's
arming, its store writes, its scheduling and the shut-off path, not a
network. Lateness is the daemon's own figure (fired instant minus deadline),
as it logs it; "cut sent" is when the relay was asked to cut, minus the
deadline (what the gas sees); arming is the time the one command took to
answer; the
longest stall is the longest the event loop went without running a 1 ms
heartbeat (arming and firing included): what any other command or MQTT
message would have waited.

Each measurement runs in its own process, once with this tree and once with a
baseline tree (``git archive`` of ``--baseline``, default the commit before
the timer work), alternated round by round, so both see the same load::

    .venv/bin/python bench/bench_timers.py [--rounds 3] [--baseline REV] 1000 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The tree before issue 17's work (timers: each put with its own fsync, in the loop).
BASELINE = "e565677"
DELAY_S = 2.0


class InstantRelay:
    """Confirms every request at once, like a relay on a very fast LAN: each request
    still lets the event loop run once, as a network round trip does."""

    def __init__(self) -> None:
        self.energised = False
        self.first_cut: float | None = None  #: wall-clock time of the first cut sent

    def describe(self) -> str:
        return "in-process"

    async def identify(self, *, deadline: float) -> str:
        return "in-process"

    async def read(self, *, deadline: float) -> bool:
        await asyncio.sleep(0)
        return self.energised

    async def switch(self, energised: bool, *, deadline: float, pulse_seconds: float | None = None) -> None:
        if self.first_cut is None and energised:  # (normally_closed: a cut energises)
            self.first_cut = time.time()
        await asyncio.sleep(0)
        self.energised = energised

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        return None

    async def close(self) -> None:
        return None


async def _measure(count: int, tmp: Path) -> dict[str, Any]:
    """In the child: arm ``count`` timers with one command and wait until all fired."""
    from gasstove.adapters.store import Store
    from gasstove.control import Stove
    from gasstove.daemon import run
    from gasstove.daemon.clock import SystemClock
    from gasstove.daemon.service import Daemon
    from gasstove.domain.commands import parse_command
    from gasstove.domain.config import Config

    # (the models directly: a 10,000-burner file is over the YAML value budget)
    config = Config.model_validate({"stove": {"burners": {
        f"b{i:05d}": {"cut_seconds": "1s", "relay": {
            "type": "miio", "host": f"127.1.{i // 250}.{i % 250 + 1}",
            "token": "00112233445566778899aabbccddeeff"}}
        for i in range(count)}}})
    relays = {name: InstantRelay() for name in config.stove.burners}
    stove = Stove(config.stove, relays)
    store = Store(tmp / "timers.db")
    daemon = Daemon(stove, store, SystemClock())
    late: list[float] = []
    done = asyncio.Event()

    def fired(*args: Any) -> None:
        late.append(args[-1])
        if len(late) == count:
            done.set()

    daemon.fired.append(fired)
    daemon.start()
    if hasattr(run, "started"):
        run.started()  # as `stove serve` does once started (not in the baseline)
    stall = 0.0

    async def heartbeat() -> None:
        nonlocal stall
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stall, last = max(stall, now - last), now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    replies = await daemon.handle(parse_command(
        {"action": "off", "burners": ["all"], "delay_s": DELAY_S}, source="bench"))
    armed = time.perf_counter() - start
    due = replies[0]["timer"]["due_at"]
    await asyncio.wait_for(done.wait(), DELAY_S + 300)
    beat.cancel()
    await daemon.stop()
    store.close()
    late.sort()
    cuts = sorted(r.first_cut - due for r in relays.values() if r.first_cut is not None)
    return {"arm_ms": armed * 1000, "stall_ms": stall * 1000,
            "p50_ms": statistics.median(late) * 1000,
            "p99_ms": late[min(count - 1, int(count * 0.99))] * 1000, "max_ms": late[-1] * 1000,
            "cut_p99_ms": cuts[min(count - 1, int(count * 0.99))] * 1000}


def _child(tree: Path, count: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--child", str(count)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def baseline_tree(rev: str, into: Path) -> Path:
    """The package as it was at ``rev`` (git archive), to run alternated with this tree."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "gasstove", "pyproject.toml"],
                             capture_output=True, check=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run(counts: tuple[int, ...] = (1000,), rounds: int = 1,
        baseline: str = BASELINE) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": baseline_tree(baseline, Path(tmp)), "after": ROOT}
        for count in counts:
            got: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
            for _ in range(rounds):
                for name, tree in trees.items():
                    got[name].append(_child(tree, count))
            for name in trees:
                runs = got[name]

                def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
                    return statistics.median(r[key] for r in runs)

                tree = baseline if name == "before" else "this tree"
                rows.append((f"{count} timers in one command, {name} ({tree})",
                             f"arm {med('arm_ms'):.0f} ms, lateness p50 {med('p50_ms'):.0f} / "
                             f"p99 {med('p99_ms'):.0f} / max {med('max_ms'):.0f} ms, cut sent "
                             f"p99 {med('cut_p99_ms'):.0f} ms after its deadline, longest loop "
                             f"stall {med('stall_ms'):.0f} ms (median of {rounds}; p99 per run "
                             f"{', '.join(format(r['p99_ms'], '.0f') for r in runs)})"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(asyncio.run(_measure(args.child, Path(tmp)))))
        return
    for name, value in run(tuple(args.counts), args.rounds, args.baseline):
        print(f"{name:<50} {value}")


if __name__ == "__main__":
    main()
