"""The daemon hands memory a burst freed back to the system (glibc's ``malloc_trim``)."""

from __future__ import annotations

import os
import threading

import pytest

from gasstove.adapters.memory import _malloc_trim, give_back_freed_memory

pytestmark = pytest.mark.skipif(_malloc_trim() is None, reason="not glibc: nothing to trim")


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_freed_below_a_block_in_use_goes_back_to_the_system() -> None:
    """As paho's thread leaves it after a burst of reports: 40 MB freed under one
    block still in use, which glibc keeps resident until it is asked."""
    kept: list[bytes] = []

    def burst() -> None:  # in a thread of its own, as paho's: its own arena
        # 1 KB each: too big for Python's small-object allocator, so glibc's malloc
        blocks = [os.urandom(1024) for _ in range(40_000)]
        kept.append(os.urandom(1024))  # allocated last: above the others
        blocks.clear()

    before = _resident_mb()
    worker = threading.Thread(target=burst)
    worker.start()
    worker.join()
    freed = _resident_mb()
    assert freed - before > 20, f"glibc gave the burst back by itself ({before:.0f} -> {freed:.0f} MB)"

    assert give_back_freed_memory()
    assert _resident_mb() < freed - 20
