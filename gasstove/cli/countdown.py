"""``stove off --in 20m --wait``: this terminal holds the timer, with a countdown."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from ..domain.durations import format_duration
from ..domain.timers import local_clock, show_times


def clock_text(seconds: float) -> str:
    total = max(0, int(seconds + 0.999))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def wait_then(
    delay: float,
    burners: list[str],
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO = sys.stderr,
) -> bool:
    """Count down ``delay`` seconds; False when the user cancelled with Ctrl-C.

    The monotonic clock drives the wait, so a wall-clock change (NTP, DST)
    neither fires early nor late.
    """
    deadline = monotonic() + delay
    now = datetime.now().astimezone()
    due = show_times(f"at {local_clock(now.timestamp() + delay)}", now=now)
    print(f"shutting off {', '.join(burners)} in {format_duration(delay)} ({due}); "
          "Ctrl-C cancels", file=out, flush=True)
    live = out.isatty()
    last_line = deadline
    try:
        while (left := deadline - monotonic()) > 0:
            if live:
                out.write(f"\r  {clock_text(left)} left  ")
                out.flush()
            elif last_line - left >= 60:
                print(f"  {clock_text(left)} left", file=out, flush=True)
                last_line = left
            # wake on whole seconds so the display ticks evenly
            sleep(min(left, (left % 1.0) or 1.0))
    except KeyboardInterrupt:
        print("\ntimer cancelled: nothing was sent to the stove", file=out, flush=True)
        return False
    if live:
        out.write("\r" + " " * 20 + "\r")
    return True


def watch_status(refresh: Callable[[], int], *, sleep: Callable[[float], None] = time.sleep,
                 out: TextIO = sys.stdout) -> int:
    """`stove status --watch`: redraw every second until Ctrl-C (then exit 0)."""
    try:
        while True:
            if out.isatty():
                out.write("\x1b[H\x1b[2J")  # home and clear: a live view, not a log
            print(datetime.now().astimezone().isoformat(timespec="seconds")[11:], file=out,
                  flush=True)
            refresh()
            sleep(1.0)
    except KeyboardInterrupt:
        return 0
