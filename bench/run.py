"""Run the benchmarks and print one table: ``.venv/bin/python bench/run.py [--quick]``.

Not part of the tests (pytest collects ``test_*`` files only). ``--quick``
runs fewer rounds, 100 instead of 1,000 timers and 1,000 MQTT relays only
(well under 2 minutes; the full run takes about 6);
bench/README.md says what each line measures and holds the latest table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import bench_mqtt
import bench_scale
import bench_timers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 100 timers")
    quick = parser.parse_args().quick
    start = time.perf_counter()
    rows = [*bench_cli.import_times(), *bench_cli.run(3 if quick else 9),
            *bench_timers.run((1, 100) if quick else (1, 1000)),
            *bench_mqtt.run(10 if quick else 60, 2 if quick else 5),
            *bench_mqtt.run(5 if quick else 20, 0, tcp_nodelay=False, dialects=("tasmota",)),
            *bench_scale.run((1000,) if quick else (1000, 10000), 3 if quick else 10)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"({'quick' if quick else 'full'} run: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
