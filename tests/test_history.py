"""The record of everything done to a stove, and failure alerts on every channel."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gasstove.adapters.config_file import parse_config
from gasstove.adapters.history import EventLog, read_events
from gasstove.adapters.relays import build_relays
from gasstove.adapters.store import Store
from gasstove.control import Stove
from gasstove.daemon.service import Daemon
from gasstove.domain.commands import Command
from gasstove.domain.history import Event
from gasstove.records import Recorder
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_daemon import FakeClock
from .fixtures_miio import TOKEN, Run, SimRelay, burner_yaml, write_config

DAY_MS = 86_400_000


def event(at_ms: int, burner: str = "left", action: str = "cut") -> Event:
    return Event(at_ms, "kitchen", burner, action, "cli", "uid 0", "confirmed", "", 5)


def test_retention_prunes_by_age_and_by_count(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "g.db")
    now = 1_800_000_000_000
    log.record([event(now - 100 * DAY_MS), event(now - 91 * DAY_MS)]
               + [event(now - i * 1000) for i in reversed(range(150))])  # appended in time order
    assert log.prune(now, keep_days=90, max_rows=100) == 2 + 50
    rows = read_events(tmp_path / "g.db", limit=1000)
    assert len(rows) == 100
    assert rows[0].at_ms == now and rows[-1].at_ms == now - 99_000, "the newest are kept"
    log.close()


def test_reading_filters_by_burner_and_time_newest_first(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "g.db")
    log.record([event(1000, "left"), event(2000, "right"), event(3000, "left", "lock")])
    log.close()
    db = tmp_path / "g.db"
    assert [e.action for e in read_events(db, burners=["left"])] == ["lock", "cut"]
    assert [e.burner for e in read_events(db, since_ms=2000)] == ["left", "right"]
    assert read_events(tmp_path / "none.db") == []
    assert len(read_events(db, limit=1)) == 1


def test_a_log_that_cannot_be_written_never_stops_a_cut(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "g.db").write_bytes(b"not a database at all" * 100)
    assert EventLog.open(tmp_path / "g.db") is None
    assert "history not recorded: cannot open" in caplog.text
    recorder = Recorder("kitchen", None)
    recorder.event("left", "cut", "cli")  # nothing to write to: silently nothing


def test_one_shot_cuts_are_on_the_record_and_history_reads_them(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", sim)))
    assert stove("-c", config, "off")[0] == 0
    assert stove("-c", config, "lock")[0] == 0
    code, out, _ = stove("-c", config, "history", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["action"] for r in rows] == ["lock", "cut"]
    cut = rows[1]
    assert cut["source"] == "cli" and cut["result"] == "confirmed"
    assert isinstance(cut["latency_ms"], int) and cut["requested_by"].startswith("uid ")
    code, out, _ = stove("-c", config, "history", "left", "--since", "1h")
    assert code == 0 and out.splitlines()[0].startswith("time") and " cut " in out
    assert TOKEN not in out


@pytest.mark.parametrize(("args", "error"), [
    (["--since", "soon"], "error: --since: not a duration: 'soon'"),
    (["--since", "2026-13-45T08:00"], "error: not a time: '2026-13-45T08:00'"),
    (["middle"], "error: unknown burner 'middle'"),
    (["--limit", "0"], "error: Invalid value for '--limit'"),
])
def test_bad_history_input_is_one_line_and_exit_2(
    stove: Run, tmp_path: Path, args: list[str], error: str,
) -> None:
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", None)))
    code, _, err = stove("-c", config, "history", *args)
    assert code == 2 and err.startswith(error) and err.count("\n") == 1


def test_a_failed_shut_off_alerts_on_every_channel_and_the_next_cut_clears_it(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sim = miio_relay()
    alerts = tmp_path / "alerts.jsonl"
    argv = [sys.executable, "-c",
            f"import sys; open({str(alerts)!r}, 'a').write(sys.stdin.read())"]
    clock = FakeClock()
    heard: list[dict[str, object]] = []

    async def main() -> None:
        config = parse_config("stove:\n  name: kitchen\n  deadline: 1s\n  burners:\n"
                              + burner_yaml("left", sim))
        stove = Stove(config.stove, build_relays(config), sleep=clock.sleep)
        log = EventLog(tmp_path / "g.db")
        recorder = Recorder("kitchen", log, on_failure=argv, wall=clock.wall)
        recorder.alert_listeners.append(heard.append)
        daemon = Daemon(stove, Store(tmp_path / "g.db"), clock, recorder=recorder)
        try:
            sim.device.settings.loss = 1.0  # the relay is dead
            await daemon.handle(Command("off", (), source="mqtt", requested_by="phone"))
            assert daemon.burner_state("left")["problem"] is True
            sim.device.settings.loss = 0.0
            task = asyncio.create_task(daemon.handle(Command("off", ())))
            await clock.advance_until(task.done)
            await task
            assert daemon.burner_state("left")["problem"] is False
        finally:
            await stove.close()
            daemon.store.close()
            log.close()

    asyncio.run(main())
    assert len(heard) == 1 and heard[0]["burner"] == "left" and heard[0]["source"] == "mqtt"
    (ran,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert ran["result"] == "failed" and ran["reason"].startswith("shut-off NOT confirmed")
    assert any(r.levelno == logging.ERROR and "ALERT: left cut NOT confirmed" in r.getMessage()
               for r in caplog.records)
    rows = read_events(tmp_path / "g.db")
    assert [(r.action, r.result) for r in rows] == [("cut", "confirmed"), ("cut", "failed")]
    assert "no answer from" in rows[1].reason and rows[1].requested_by == "phone"


def test_kill_9_while_writing_leaves_an_intact_log(tmp_path: Path) -> None:
    """A writer killed mid-burst: the file checks ok and every committed row is there."""
    import subprocess

    db = tmp_path / "g.db"
    Store(db).close()
    writer = subprocess.Popen([sys.executable, "-c", f"""
import sys
from pathlib import Path
from gasstove.adapters.history import EventLog
from gasstove.domain.history import Event
log = EventLog(Path({str(db)!r}))
i = 0
while True:
    log.record([Event(i, "kitchen", "left", "cut", "cli", "", "confirmed", "", i % 50)
                for i in range(i, i + 100)])
    i += 100
    if i == 3000:
        print("ready", flush=True)
"""], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    writer.kill()
    writer.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count, top = conn.execute("SELECT COUNT(*), MAX(at_ms) FROM events").fetchone()
    assert count >= 3000 and count % 100 == 0 and top == count - 1, "whole batches, no gaps"
    store = Store(db)  # the daemon still starts on it
    store.close()


def test_a_dead_relay_status_poll_is_recorded_once_and_its_return_too(tmp_path: Path) -> None:
    clock = FakeClock()
    host = free_loopback_host()

    async def main() -> None:
        config = parse_config("stove:\n  deadline: 0.5s\n  burners:\n"
                              + burner_yaml("left", None, host=host))
        stove = Stove(config.stove, build_relays(config), sleep=clock.sleep)
        log = EventLog(tmp_path / "g.db")
        daemon = Daemon(stove, Store(tmp_path / "g.db"), clock,
                        recorder=Recorder("s", log, wall=clock.wall))
        try:
            await daemon.status(["left"])
            await daemon.status(["left"])
            daemon.relay["left"] = ("resting", True)  # it had been fine before
            await daemon.status(["left"])
            await daemon.status(["left"])
        finally:
            await stove.close()
            daemon.store.close()
            log.close()

    asyncio.run(main())
    assert [e.action for e in read_events(tmp_path / "g.db")] == ["relay_unreachable"]
