"""The stove guard's timing with real clocks: a warning ``warn_before`` ahead, then the cut
at the instant the warning announced, for 1 and N burners at once.

The daemon's own code holds everything (``Daemon``, its guard, SQLite, the system
clock); each relay is an in-process relay that confirms at once and notes when it
was told to cut, so what is measured is the guard's scheduling and the shut-off
path, not a network. Two kinds of automatic cut: a shut-off timer (the daemon's
timers fire it, the guard warns) and an empty kitchen (the guard warns and cuts).
The guard's limits are shortened for the bench (``away_after`` 3 s instead of at
least a minute) by building its configuration without validation; the code path is
the one `stove serve` runs. Errors are against the ideal instants: the warning at
cut - warn_before, the cut at the announced ``cut_at``.

Each round runs in its own process, once with this tree and once with a baseline tree
(``git archive`` of ``--baseline``: the tree before the shut-off path's issue 17 work),
alternated, so both see the same load::

    .venv/bin/python bench/bench_guard.py [--rounds 3] [--baseline REV] 1 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench_timers import ROOT, InstantRelay, baseline_tree

#: main before the shut-off path's work on issue 17 (guard cuts, timers at 10,000).
BASELINE = "5920d7a"
WARN_BEFORE_S = 1.0
AWAY_AFTER_S = 3.0
TIMER_S = 2.5


class TimedRelay(InstantRelay):
    """Notes the wall-clock instant of its first cut (and tells ``cut``)."""

    def __init__(self, cut: Callable[[], None]) -> None:
        super().__init__()
        self.cut_at: float | None = None
        self._cut = cut

    async def switch(self, energised: bool, *, deadline: float,
                     pulse_seconds: float | None = None) -> None:
        if energised and self.cut_at is None:
            self.cut_at = time.time()
            self._cut()
        await super().switch(energised, deadline=deadline, pulse_seconds=pulse_seconds)


async def _round(count: int, reason: str, tmp: Path) -> dict[str, list[float]]:
    """Absolute errors (s) of the warning instant, the announced cut_at and the cut
    instant (against the announced one), per burner."""
    from gasstove.adapters.config_file import parse_config
    from gasstove.adapters.store import Store
    from gasstove.control import Stove
    from gasstove.daemon.clock import SystemClock
    from gasstove.daemon.service import Daemon
    from gasstove.domain.commands import parse_command
    from gasstove.domain.guard import GuardConfig, PresenceInput

    burners = "".join(
        f"    b{i:05d}:\n      cut_seconds: 1s\n"
        f"      flame: {{topic: bench/b{i}/flame}}\n"
        f"      relay: {{type: miio, host: 127.1.{i // 250}.{i % 250 + 1}, "
        "token: 00112233445566778899aabbccddeeff}\n"
        for i in range(count))
    config = parse_config(f"stove:\n  burners:\n{burners}mqtt: {{host: 127.0.0.1}}\n")
    left, all_cut = [count], asyncio.Event()

    def cut() -> None:
        left[0] -= 1
        if not left[0]:
            all_cut.set()

    relays = {name: TimedRelay(cut) for name in config.stove.burners}
    stove = Stove(config.stove, dict(relays))
    store = Store(tmp / f"guard-{reason}-{count}.db")
    guard = GuardConfig.model_construct(
        presence=PresenceInput(topic="bench/presence"), away_after=AWAY_AFTER_S,
        warn_before=WARN_BEFORE_S, hazards=[])
    daemon = Daemon(stove, store, SystemClock(), guard=guard)
    warned: dict[str, tuple[float, float]] = {}  # burner: (when, announced cut_at)

    def warning(w: dict[str, Any]) -> None:
        if w["active"] and w["burner"] not in warned:
            warned[w["burner"]] = (time.time(), datetime.fromisoformat(w["cut_at"]).timestamp())

    daemon.guard.warning_listeners.append(warning)
    daemon.start()
    await asyncio.sleep(0.2)
    start = time.time()
    if reason == "timer":
        # (arming writes the timers to SQLite in one transaction first: give it time)
        delay = TIMER_S + count * 0.001
        await daemon.handle(parse_command({"action": "off", "burners": ["all"],
                                           "delay_s": delay}, source="bench"))
        ideal = next(iter(daemon.timers.values())).due_at  # (one instant for all)
    else:
        for name in config.stove.burners:
            daemon.flame(name, True)  # lit now, nobody present: cut AWAY_AFTER_S from now
        ideal = start + AWAY_AFTER_S
    with contextlib.suppress(TimeoutError):  # (a burner never cut counts as infinitely late)
        await asyncio.wait_for(all_cut.wait(), 60 + count * 0.01)
    await daemon.stop()
    store.close()
    errors: dict[str, list[float]] = {"warning": [], "cut_at": [], "cut": []}
    for name, relay in relays.items():
        when, announced = warned.get(name, (float("inf"), float("inf")))
        cut = relay.cut_at if relay.cut_at is not None else float("inf")
        errors["warning"].append(abs(when - (ideal - WARN_BEFORE_S)))
        errors["cut_at"].append(abs(announced - ideal))
        errors["cut"].append(abs(cut - announced))
    return {kind: sorted(values) for kind, values in errors.items()}


def _child(tree: Path, count: int, reason: str) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--child", reason, str(count)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, list[float]] = json.loads(done.stdout.splitlines()[-1])
    return result


def run(counts: tuple[int, ...] = (1, 1000), rounds: int = 1,
        baseline: str = BASELINE) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": baseline_tree(baseline, Path(tmp)), "after": ROOT}
        for reason in ("timer", "inactivity"):
            for count in counts:
                got: dict[str, dict[str, list[float]]] = {
                    name: {"warning": [], "cut_at": [], "cut": []} for name in trees}
                for _ in range(rounds):
                    for name, tree in trees.items():
                        for kind, values in _child(tree, count, reason).items():
                            got[name][kind].extend(values)
                for name in trees:
                    tree = baseline if name == "before" else "this tree"
                    for kind, values in got[name].items():
                        values.sort()
                        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
                        rows.append((f"guard, {count} {reason} cut(s) at once: {kind} error, "
                                     f"{name} ({tree})",
                                     f"p50 {statistics.median(values) * 1000:.1f} ms, p99 "
                                     f"{p99 * 1000:.1f} ms, max {values[-1] * 1000:.1f} ms "
                                     f"(target p99 <= 100 ms; {rounds} round(s) pooled)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("counts", nargs="*", type=int, default=[1, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.getLogger("gasstove").setLevel(logging.ERROR)  # (a line per warning and cut)
        with tempfile.TemporaryDirectory() as tmp:
            errors = asyncio.run(_round(args.counts[0], args.child, Path(tmp)))
        print(json.dumps(errors))
        return
    for name, value in run(tuple(args.counts), args.rounds, args.baseline):
        print(f"{name:<72} {value}")


if __name__ == "__main__":
    main()
