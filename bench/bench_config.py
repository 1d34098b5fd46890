"""Reading a large configuration: N MQTT burners, YAML to validated models.

Each measurement runs in its own process, once with this tree and once with
the baseline tree (``git archive``), alternated round by round. The file is
the one ``bench_scale.py`` writes (a Tasmota relay per burner, ~12 YAML
values each); it is parsed by ``parse_config`` as ``stove`` does, best of 3
per process, with the YAML-to-data and the pydantic parts apart; and its memory: what
the process grows by (RSS) at its first reading of the file, what the models keep and
the reading's peak (tracemalloc).

The configuration's hostile-file budget (adapters/config_file.py: 50,000
values, 1 MiB) refuses more than ~4,100 such burners; ``--no-budget`` lifts it
(in the measuring process only) to time 10,000::

    .venv/bin/python bench/bench_config.py [--rounds 3] [--no-budget] 4000 10000
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench_timers import BASELINE, ROOT, baseline_tree


def config_text(count: int) -> str:
    burners = "".join(f"    b{i}:\n      cut_seconds: 1s\n      relay: {{type: mqtt, "
                      f"dialect: tasmota, topic: s-{i}}}\n" for i in range(count))
    return (f"stove:\n  name: big\n  deadline: 60s\n  burners:\n{burners}"
            "mqtt: {host: 127.0.0.1, port: 1883}\n")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def _measure(count: int, budget: bool) -> dict[str, float]:
    """In the child: best of 3 of parse_config, and its YAML part alone."""
    import gasstove.adapters.config_file as config_file

    if not budget:
        config_file.MAX_VALUES = config_file.MAX_BYTES = 10**9
    text = config_text(count)
    config_file.parse_config(config_text(1))  # the models built, as in a running stove
    best: dict[str, float] = {}
    # Memory: what the process grows by at its first reading of the file (a daemon's
    # floor: the YAML data's peak stays in Python's arenas), then what the models keep
    # and the reading's peak (tracemalloc, on a second reading).
    before = _rss_mb()
    kept = config_file.parse_config(text)
    best["rss_mb"] = _rss_mb() - before
    del kept
    tracemalloc.start()
    kept = config_file.parse_config(text)
    live, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    best["live_mb"], best["peak_mb"] = live / 1e6, peak / 1e6
    # the YAML part: whichever function this tree has for it
    if hasattr(config_file, "_load"):
        # (without each key's line where this tree reads them only for an error's message)
        lines = None if "None" in str(inspect.signature(config_file._load).parameters["lines"]) \
            else {}

        def yaml_part() -> object:
            return config_file._load(text, "x", lines, [])
    else:
        def yaml_part() -> object:
            return config_file._to_python(config_file._compose(text, "x"), (), {}, "x", [])
    for key, work in (("yaml", yaml_part), ("total", lambda: config_file.parse_config(text))):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            work()
            runs.append(time.perf_counter() - start)
        best[key] = min(runs) * 1000
    return best


def run(counts: tuple[int, ...] = (4000,), rounds: int = 1, baseline: str = BASELINE,
        budget: bool = True) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": baseline_tree(baseline, Path(tmp)), "after": ROOT}
        for count in counts:
            got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for _ in range(rounds):
                for name, tree in trees.items():
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(count),
                         *([] if budget else ["--no-budget"])],
                        env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                        text=True, timeout=600, check=True)
                    got[name].append(json.loads(done.stdout.splitlines()[-1]))
            for name in trees:
                tree_name = baseline if name == "before" else "this tree"

                def med(key: str, runs: list[dict[str, Any]] = got[name]) -> float:
                    return statistics.median(r[key] for r in runs)

                rows.append((f"{count} burners of config parsed, {name} ({tree_name})",
                             f"{med('total'):.0f} ms (YAML to data {med('yaml'):.0f} ms, models "
                             f"{med('total') - med('yaml'):.0f} ms; median of {rounds}, "
                             "target <= 500 ms for 10,000)"))
                rows.append((f"{count} burners of config, memory, {name}",
                             f"RSS +{med('rss_mb'):.1f} MB at the first reading; models keep "
                             f"{med('live_mb'):.1f} MB, reading's peak {med('peak_mb'):.1f} MB "
                             "(tracemalloc)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("counts", nargs="*", type=int, default=[4000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--no-budget", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, not args.no_budget)))
        return
    for name, value in run(tuple(args.counts), args.rounds, args.baseline, not args.no_budget):
        print(f"{name:<50} {value}")


if __name__ == "__main__":
    main()
