"""Voice grammar speed: start-up (import + first parse) and per-sentence parse time.

Run: ``.venv/bin/python bench/bench_voice.py``. Every corpus sentence is parsed
once to warm the per-language, per-burner-configuration grammar cache, then
``ROUNDS`` more times; the target is well under 50 ms per sentence.
"""

from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

ROUNDS = 5
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "voice_corpus"


def main() -> None:
    start = time.perf_counter()
    from gasstove.domain.voice import parse_utterance

    parse_utterance("二十分钟后关火")
    startup_ms = (time.perf_counter() - start) * 1000

    sentences = [
        row[1]
        for path in sorted(CORPUS.glob("*.tsv"))
        for row in csv.reader(path.open(encoding="utf-8"), delimiter="\t")
        if row and not row[0].startswith("#")
    ]
    for text in sentences:  # warm both languages' grammars
        parse_utterance(text)
    times = []
    for _ in range(ROUNDS):
        for text in sentences:
            t = time.perf_counter()
            parse_utterance(text)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"start-up (import + first parse): {startup_ms:.1f} ms")
    print(
        f"{len(sentences)} sentences x {ROUNDS}: median {statistics.median(times):.2f} ms, "
        f"p99 {p99:.2f} ms, max {times[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
