"""Run the benchmarks and print one table: ``.venv/bin/python bench/run.py [--quick]``.

Not part of the tests (pytest collects ``test_*`` files only). ``--quick``
runs fewer rounds, 1,000 timers only (not 10,000), 100 guarded burners (not 1,000)
and 1,000 MQTT relays only (about 2 minutes: 127 s with the issue 17 start-up, timer
and config benches, each alternating a baseline tree; the full run takes about 10),
and bench_ha.py in .venv-ha when it exists (~25 s quick, ~80 s full);
bench/README.md says what each line measures and holds the latest table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import bench_config
import bench_guard
import bench_mqtt
import bench_scale
import bench_timers


def home_assistant(quick: bool) -> list[tuple[str, str]]:
    """bench_ha.py in the Home Assistant venv (HA's test harness lives there, not in .venv)."""
    bench = Path(__file__).resolve().parent
    python = bench.parent / ".venv-ha" / "bin" / "python"
    if not python.exists():
        return [("Home Assistant (bench_ha.py)", "skipped: no .venv-ha (run bash scripts/test first)")]
    done = subprocess.run([str(python), str(bench / "bench_ha.py"), "--rows",
                           *(["--quick"] if quick else [])], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_ha.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return [(name, value) for name, _, value in
            (line.partition("\t") for line in done.stdout.splitlines() if "\t" in line)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, fewer timers")
    quick = parser.parse_args().quick
    start = time.perf_counter()
    rows = [*bench_cli.import_times(), *bench_cli.run(3 if quick else 9),
            *bench_timers.run((1000,) if quick else (1000, 10000), 1 if quick else 3),
            *bench_config.run((4000,), 1 if quick else 3),
            *bench_guard.run((1, 100) if quick else (1, 1000), 1 if quick else 3),
            *bench_mqtt.run(10 if quick else 60, 2 if quick else 5),
            *bench_mqtt.run(5 if quick else 20, 0, tcp_nodelay=False, dialects=("tasmota",)),
            *bench_scale.run((1000,) if quick else (1000, 10000), 3 if quick else 10),
            *home_assistant(quick)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"({'quick' if quick else 'full'} run: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
