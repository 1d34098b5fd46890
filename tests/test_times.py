"""Times read unambiguously (issue 20 item 2): local time with its offset, "tomorrow"
when it is, in the zone of whoever reads it, from the UTC instants the daemon keeps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gasstove.domain.timers import local_clock, show_times

from .fixtures_miio import SimRelay, burner_yaml

PLUS8 = timezone(timedelta(hours=8))


def test_instants_in_a_message_are_shown_in_the_readers_zone_relative_to_today() -> None:
    now = datetime(2026, 12, 1, 23, 30, tzinfo=PLUS8)
    # the daemon wrote them in its own zone (here UTC): the reader's clock is +08:00
    assert show_times("shut-off at 2026-12-01T15:45:00+00:00 (in 15m)", now=now, tz=PLUS8) == \
        "shut-off at 23:45:00+08:00 (in 15m)"
    assert show_times("shut-off at 2026-12-02T03:00:00+00:00 (in 3h30m)", now=now, tz=PLUS8) == \
        "shut-off tomorrow at 11:00:00+08:00 (in 3h30m)"
    assert show_times("timer cancelled (was due 2026-11-30T04:00:00.000+00:00)", now=now, tz=PLUS8) == \
        "timer cancelled (was due yesterday 12:00:00+08:00)"
    assert show_times("due 2026-12-05T04:00:00Z", now=now, tz=PLUS8) == "due 2026-12-05 12:00:00+08:00"
    # history: every instant dated
    assert show_times("due 2026-12-01T15:45:00.250+00:00", now=None, tz=PLUS8) == \
        "due 2026-12-01 23:45:00+08:00"
    assert show_times("no instant here: 11:00", now=now, tz=PLUS8) == "no instant here: 11:00"


def test_local_clock_is_an_instant_with_its_offset() -> None:
    text = local_clock(1_800_000_000.0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", text), text
    assert datetime.fromisoformat(text).timestamp() == 1_800_000_000.0


def _zone_at_noon(avoid: int) -> tuple[str, int]:
    """A POSIX TZ where it is now about noon (so 'an hour ago' is today) and its offset."""
    hours = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # -12..11
    if hours == avoid:
        hours -= 1
    return f"CLI{-hours:+d}", hours  # (POSIX TZ signs are west-positive)


def test_replies_and_history_use_the_callers_zone_and_say_tomorrow(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
    serve: Callable[[Path], subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = miio_relay("left")
    config = tmp_path / "c.yaml"
    config.write_text("stove:\n  deadline: 2s\n  burners:\n" + burner_yaml("left", sim)
                      + f"daemon:\n  database: {tmp_path}/g.db\n  socket: {tmp_path}/d.sock\n")
    config.chmod(0o600)
    monkeypatch.setenv("TZ", "DAE-8")  # the daemon runs at +08:00
    serve(config)
    tz, hours = _zone_at_noon(avoid=8)
    offset = f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"
    env = {**os.environ, "TZ": tz}

    def stove(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                              capture_output=True, text=True, timeout=60, env=env)

    local = datetime.now(timezone(timedelta(hours=hours)))
    passed = (local - timedelta(hours=1)).strftime("%H:%M")
    done = stove("off", "left", "--at", passed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"left  shut-off tomorrow at {passed}:00{offset} (in 2"), \
        done.stdout
    due = json.loads(stove("status", "--json").stdout)["burners"][0]["timer"]["due_at"]
    assert due == pytest.approx(time.time() + 23 * 3600, abs=3600)
    done = stove("status")
    assert f"; timer: shut-off tomorrow at {passed}:00{offset} (in " in done.stdout
    done = stove("cancel", "left")
    assert done.stdout == f"left  timer cancelled (was due tomorrow {passed}:00{offset})\n"
    rows = stove("history").stdout.splitlines()
    assert rows[0].startswith("time ") and len(rows) == 3
    today = local.strftime("%Y-%m-%d")
    assert all(re.match(rf"{today} \d\d:\d\d:\d\d{re.escape(offset)}  left ", r) for r in rows[1:])
    tomorrow = (local + timedelta(days=1)).strftime("%Y-%m-%d")
    assert rows[-1].endswith(f"due {tomorrow} {passed}:00{offset}"), rows[-1]
    assert "+08:00" not in "".join(rows) + done.stdout


def test_a_json_log_line_gives_its_instant_with_the_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from gasstove.daemon.run import JsonFormatter

    monkeypatch.setenv("TZ", "DAE-8")
    time.tzset()
    try:
        record = logging.LogRecord("gasstove", logging.INFO, __file__, 1, "hello", None, None)
        record.created = 1_800_000_000.25
        entry = json.loads(JsonFormatter().format(record))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert entry["ts"] == "2027-01-15T16:00:00.250+08:00"
