"""The daemon's timers: fire once and on time, survive restarts and clock jumps.

Virtual time (FakeClock) drives the timers and the pulse; relays are
simulated miio devices over real UDP, the store a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gasstove.adapters.burner_guard import FileBurnerGuard
from gasstove.adapters.config_file import parse_config
from gasstove.adapters.relays import build_relays
from gasstove.adapters.store import Store, StoreError
from gasstove.control import Outcome, Stove
from gasstove.daemon.server import handle_line, start_socket
from gasstove.daemon.service import Daemon
from gasstove.domain.commands import Command
from gasstove.domain.daemon_config import DaemonConfig
from gasstove.domain.errors import UsageError
from gasstove.domain.timers import WALL_CHECK_S, Timer
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_daemon import FakeClock
from .fixtures_miio import SimRelay, burner_yaml
from .test_mqtt import until

Fired = list[tuple[str, bool, float]]


@asynccontextmanager
async def running(db: Path, clock: FakeClock, *burners: str,
                  retry_after: tuple[float, ...] = (5.0, 15.0)) -> AsyncIterator[tuple[Daemon, Fired]]:
    config = parse_config("stove:\n  deadline: 1s\n  burners:\n" + "".join(burners))
    # the burners' records beside the database, as `stove serve` keeps them
    guard = FileBurnerGuard(DaemonConfig(database=db).burners_path())
    stove = Stove(config.stove, build_relays(config), sleep=clock.sleep, guard=guard)
    store = Store(db)
    daemon = Daemon(stove, store, clock, retry_after=retry_after)
    fired: Fired = []
    daemon.fired.append(lambda t, o, late: fired.append((t.burner, o.ok, late)))
    daemon.start()
    try:
        yield daemon, fired
    finally:
        await daemon.stop()
        await stove.close()
        store.close()


def off_in(seconds: float, *burners: str, source: str = "cli") -> Command:
    return Command("off", burners, seconds, source)


def test_a_twenty_minute_timer_fires_once_on_time(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, fired):
            (result,) = await daemon.handle(off_in(1200, "left"))
            assert result["ok"] and result["timer"]["in_s"] == 1200
            assert "in 20m" in result["message"]
            await clock.advance(1199.9)
            assert fired == [] and sim.burner.lit
            await clock.advance(0.2)
            # The fake clock stays 100 ms past the deadline while the real UDP exchange
            # runs (a miio cut reads the contact back every 50 ms: it may take longer
            # than advance's settling, as it did on a busy machine).
            assert await until(lambda: not sim.burner.lit, 2), "cut within 100 ms of the deadline"
            # the pulse (cut_seconds 1s) ends, the relay restores
            await clock.advance_until(lambda: bool(fired))
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]
            assert fired[0][2] < 0.1, "woke within 100 ms of its deadline"
            await clock.advance(3600)
            assert len(fired) == 1, "fires once"
            assert sim.burner.state().loop_closed, "the pulse ended"
            assert daemon.timers == {}

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "g.db") as db:
        assert db.execute("SELECT COUNT(*) FROM timers").fetchone() == (0,)


def test_a_wall_clock_stepped_back_neither_fires_early_nor_loses_the_timer(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """A step back (a person, NTP correcting a clock that ran ahead) is not time passing:
    "in 10 minutes" still fires after 10 minutes of real (monotonic) time, not an hour on."""
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(off_in(600, "left"))
            await clock.advance(60)
            clock.jump_wall(-3600)
            await clock.advance(500)
            assert fired == [], "not early"
            await clock.advance(40.1)
            assert not sim.burner.lit, "not an hour late"
            await clock.advance_until(lambda: bool(fired))
            assert [b for b, _, _ in fired] == ["left"]

    asyncio.run(main())


def test_a_wall_clock_jumping_past_the_due_instant_fires_the_timer_within_the_check(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """The earlier of the monotonic deadline and the wall-clock due instant: once the clock
    reads past the shut-off time it is carried out, within WALL_CHECK_S (a timer set
    while the clock was an hour behind fires when NTP corrects it: early, never late)."""
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(off_in(600, "left"))
            await clock.advance(60)
            clock.jump_wall(3600)
            await clock.advance(WALL_CHECK_S + 0.1)
            assert not sim.burner.lit, "cut within one wall-clock check of the jump"
            await clock.advance_until(lambda: bool(fired))
            await clock.advance(3600)
            assert [b for b, _, _ in fired] == ["left"], "once"
            assert daemon.timers == {}

    asyncio.run(main())


def test_a_timer_restored_while_the_clock_is_behind_fires_when_ntp_corrects_it(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """A Raspberry Pi without a real-time clock boots at its last shutdown time and NTP
    steps the clock forward minutes later. The restored timer, anchored to the monotonic
    clock from the wrong time, would wait the whole error on top: it fires instead once
    the corrected clock reads past its due instant."""
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, _):
            await daemon.handle(off_in(600, "left"))
            await clock.advance(60)
        clock.jump_wall(-3600)  # rebooted with the clock an hour behind
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, fired):
            await clock.advance(30)
            clock.jump_wall(3600)  # NTP: 90 s of the 600 have passed
            await clock.advance(509)
            assert fired == [] and sim.burner.lit, "not early"
            await clock.advance(WALL_CHECK_S + 1)
            assert not sim.burner.lit, "cut at its due instant, not an hour on"
            await clock.advance_until(lambda: bool(fired))
            await clock.advance(7200)
            assert [b for b, _, _ in fired] == ["left"], "once"
            assert fired[0][2] < WALL_CHECK_S + 1

    asyncio.run(main())


def test_timers_survive_a_restart_and_late_ones_fire_at_once(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    burners = (burner_yaml("left", left), burner_yaml("right", right))
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, *burners) as (daemon, _):
            await daemon.handle(off_in(60, "left"))
            await daemon.handle(off_in(7200, "right"))
        clock.jump_wall(300)  # the daemon is down for five minutes
        caplog.set_level(logging.INFO, "gasstove.daemon")
        async with running(db, clock, *burners) as (daemon, fired):
            await clock.advance(0.1)
            assert not left.burner.lit and right.burner.lit
            await clock.advance_until(lambda: bool(fired))
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]
            assert 239 < fired[0][2] < 241, "reported 240 s late"
            assert "came due at" in caplog.text and "firing now, 240.0 s late" in caplog.text
            assert set(daemon.timers) == {"right"}
            await clock.advance(7200 - 300)
            await clock.advance_until(lambda: len(fired) == 2)
            assert [b for b, _, _ in fired] == ["left", "right"]

    asyncio.run(main())


def test_a_timer_caught_mid_firing_by_a_crash_fires_again(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    store = Store(tmp_path / "g.db")
    store.put_timer(Timer("left", clock.wall() - 1, clock.wall() - 61, "cli", firing=True))
    store.close()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (_, fired):
            await clock.advance_until(lambda: bool(fired))
            assert [b for b, _, _ in fired] == ["left"]

    asyncio.run(main())


def test_replace_cancel_and_shut_off_now(miio_relay: Callable[..., SimRelay], tmp_path: Path) -> None:
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(off_in(600, "left"))
            (again,) = await daemon.handle(off_in(1200, "left", source="voice"))
            assert again["replaced"] and "replaces the timer due in 10m (set from cli)" in again["message"]
            await clock.advance(900)
            assert fired == [], "the replaced timer is gone"
            (cancelled,) = await daemon.handle(Command("cancel", ("left",)))
            assert cancelled["message"].startswith("timer cancelled")
            (nothing,) = await daemon.handle(Command("cancel", ("left",)))
            assert nothing["message"] == "no timer was pending"
            await daemon.handle(off_in(60, "left"))
            task = asyncio.create_task(daemon.handle(Command("off", ("left",))))
            await clock.advance_until(task.done)
            (now,) = await task
            assert now["ok"] and "pending timer is no longer needed" in now["message"]
            assert daemon.timers == {}
            await clock.advance(120)
            assert fired == []

    asyncio.run(main())


def test_timers_set_together_fire_together_but_one_cancelled_or_moved_stays_out(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Timers due at one instant share one alarm: a cancel or a new time for one of them
    takes it out of that alarm, and the others still fire on time."""
    sims = {name: miio_relay() for name in ("left", "middle", "right")}
    clock = FakeClock()

    async def main() -> None:
        yaml = [burner_yaml(name, sim) for name, sim in sims.items()]
        async with running(tmp_path / "g.db", clock, *yaml) as (daemon, fired):
            start = clock.monotonic()
            armed = await daemon.handle(off_in(600, "left", "middle", "right"))
            assert [r["ok"] for r in armed] == [True] * 3
            await daemon.handle(Command("cancel", ("middle",)))
            await daemon.handle(off_in(1200, "right"))
            await clock.advance(600.1)
            await clock.advance_until(lambda: bool(fired))
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]
            assert not sims["left"].burner.lit and fired[0][2] < 0.2
            assert sims["middle"].burner.lit and sims["right"].burner.lit
            await clock.advance(start + 1199.9 - clock.monotonic())
            assert sims["right"].burner.lit, "moved to 1200 s: not before"
            await clock.advance(0.2)
            await clock.advance_until(lambda: len(fired) == 2)
            assert fired[1][:2] == ("right", True) and not sims["right"].burner.lit
            assert sims["middle"].burner.lit and daemon.timers == {}

    asyncio.run(main())


def test_an_unconfirmed_timer_shut_off_is_retried_and_logged_at_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    dead = burner_yaml("left", None, host=free_loopback_host())

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, dead, retry_after=(5.0,)) as (daemon, fired):
            await daemon.handle(off_in(10, "left"))
            await clock.advance(10.1, settle=2)  # the dead relay costs its real 1 s deadline
            await clock.advance(5, settle=2)
            assert fired == [("left", False, pytest.approx(0, abs=0.1))]

    asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("NOT confirmed" in e and "trying again in 5s" in e for e in errors)
    assert any(e.startswith("left shut_off by timer") for e in errors)


def test_locks_are_remembered_and_told_apart_from_a_relay_left_cutting(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, _):
            (locked,) = await daemon.handle(Command("lock", ()))
            assert locked["ok"] and locked["locked"]
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim)) as (daemon, _):
            (status,) = await daemon.handle(Command("status", ()))
            assert status["locked"] and status["message"].startswith("locked:")
            await daemon.handle(Command("unlock", ()))
            sim.device.energised = True  # a cut whose restore never came
            (status,) = await daemon.handle(Command("status", ()))
            assert not status["locked"] and status["message"].startswith("relay left cutting")

    asyncio.run(main())


def test_a_damaged_database_is_refused_loudly(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StoreError, match=r"g\.db: cannot use the timer database .*pending timers"):
        Store(db)


def test_a_second_daemon_on_the_same_database_is_refused(tmp_path: Path) -> None:
    first = Store(tmp_path / "g.db")
    try:
        with pytest.raises(StoreError, match="another `stove serve` is using this database"):
            Store(tmp_path / "g.db")
    finally:
        first.close()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "not a JSON object"),
        (b"[1, 2]", "a command must be a JSON object"),
        (b'{"action": "explode"}', "action must be one of off, cancel, lock, unlock, status"),
        (b'{"action": "off", "in": "soon"}', "not a duration: 'soon'"),
        (b'{"action": "off", "delay_s": 1e9}', "delay_s must be between 1 and 86400"),
        (b'{"action": "off", "delay_s": true}', "delay_s must be a number of seconds"),
        (b'{"action": "lock", "in": "5m"}', "a delay only goes with action off"),
        (b'{"action": "off", "burners": ["middle"]}', "unknown burner 'middle'"),
        (b'{"action": "off", "burners": [1]}', "burners must be a list of burner names"),
        (b'{"action": "off", "rm": "-rf"}', "unknown key 'rm'"),
    ],
)
def test_bad_socket_commands_get_a_one_line_error_and_do_nothing(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, line: bytes, error: str,
) -> None:
    sim = miio_relay()

    async def main() -> None:
        async with running(tmp_path / "g.db", FakeClock(), burner_yaml("left", sim)) as (daemon, _):
            reply = await handle_line(daemon, line, "uid 0")
            assert reply["ok"] is False and reply["exit"] == 2
            assert reply["error"].startswith(error) or error in reply["error"]
            assert daemon.timers == {}

    asyncio.run(main())
    assert sim.device.requests == []


def test_the_socket_is_owner_only_and_speaks_json_lines(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    path = tmp_path / "run" / "d.sock"

    async def main() -> None:
        async with running(tmp_path / "g.db", FakeClock(), burner_yaml("left", sim)) as (daemon, _):
            server = await start_socket(daemon, path)
            try:
                assert path.stat().st_mode & 0o777 == 0o600
                assert path.parent.stat().st_mode & 0o777 == 0o700
                with pytest.raises(UsageError, match="already listening"):
                    await start_socket(daemon, path)
                reader, writer = await asyncio.open_unix_connection(str(path))
                writer.write(b'{"action": "off", "in": "20m", "source": "voice"}\n' + b"x" * 70000 + b"\n")
                first = json.loads(await reader.readline())
                assert first["ok"] and first["burners"][0]["timer"]["source"] == "voice"
                assert first["burners"][0]["timer"]["requested_by"].startswith("uid ")
                second = json.loads(await reader.readline())
                assert second == {"ok": False, "exit": 2, "error": "request line too long"}
                writer.close()
            finally:
                server.close()

    asyncio.run(main())


def test_outcome_json_is_plain_data() -> None:
    outcome = Outcome("left", "shut_off", True, "resting", "ok", cut_ms=3, restored=True)
    assert json.loads(json.dumps(outcome.as_json()))["cut_ms"] == 3


def test_a_forgotten_burner_is_shut_off_after_its_maximum_burn_time(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    extra = "      flame: {topic: kitchen/flame}\n      max_burn: 2h\n"
    burner = burner_yaml("left", sim, extra=extra)
    changed: list[list[str]] = []

    async def main() -> None:
        db = tmp_path / "g.db"
        config = parse_config("stove:\n  deadline: 1s\n  burners:\n" + burner
                              + "mqtt: {host: 127.0.0.1}\n")
        stove = Stove(config.stove, build_relays(config), sleep=clock.sleep)
        daemon = Daemon(stove, Store(db), clock)
        daemon.listeners.append(changed.append)
        daemon.start()
        try:
            daemon.flame("left", True)
            assert daemon.burner_state("left")["lit"] is True
            await clock.advance(3600)
            daemon.flame("left", False)  # turned off by hand: the limit is off too
            daemon.flame("left", True)  # lit again: two fresh hours
            await clock.advance(7199)
            assert sim.burner.lit
            await clock.advance(3)
            assert not sim.burner.lit
        finally:
            await daemon.stop()
            await stove.close()
            daemon.store.close()

    caplog.set_level(logging.INFO, "gasstove.daemon")
    asyncio.run(main())
    assert "left has burned for 2h (its max_burn): shutting it off" in caplog.text
    assert "left shut_off from max_burn" in caplog.text
    assert ["left"] in changed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["action", "burners", "in", "delay_s", "id", "x"]),
                    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                              st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3)),
                    max_size=5).map(lambda d: json.dumps(d).encode()),
))
def test_no_socket_line_escapes_as_a_traceback(tmp_path_factory: pytest.TempPathFactory,
                                               line: bytes) -> None:
    """Whatever arrives on the socket gets a one-line answer, never a traceback."""
    tmp = tmp_path_factory.mktemp("fuzz")
    dead = burner_yaml("left", None, host="127.0.0.254")

    async def main() -> dict[str, object]:
        async with running(tmp / "g.db", FakeClock(), dead) as (daemon, _):
            return await handle_line(daemon, line, "uid 0")

    reply = asyncio.run(main())
    assert set(reply) <= {"ok", "exit", "error", "burners"}
    if "error" in reply:
        assert "\n" not in str(reply["error"])
        assert reply["error"] != "internal error in the daemon (see its log)", "a bug, not bad input"


def test_a_daemon_stops_at_once_while_a_burner_is_lit(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """A maximum-burn watch must not hold a stop for hours."""
    sim = miio_relay()
    extra = "      flame: {topic: kitchen/flame}\n      max_burn: 2h\n"
    config = parse_config("stove:\n  deadline: 1s\n  burners:\n"
                          + burner_yaml("left", sim, extra=extra) + "mqtt: {host: 127.0.0.1}\n")

    async def main() -> None:
        stove = Stove(config.stove, build_relays(config))
        daemon = Daemon(stove, Store(tmp_path / "g.db"), FakeClock())
        daemon.start()
        daemon.flame("left", True)
        await asyncio.wait_for(daemon.stop(), 5)
        await stove.close()
        daemon.store.close()

    asyncio.run(main())


# -- nothing but a cancel or a confirmed cut removes a pending timer (issue 13, item 4) ---------


def stored_timers(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT burner FROM timers")]


def sent_cuts(sim: SimRelay) -> int:
    return sum(1 for r in sim.device.requests if r.get("method") == "set_properties"
               and r["params"][0].get("value") is True)


def test_a_failed_shut_off_now_leaves_the_timer_armed(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, fired):
            (timer,) = await daemon.handle(off_in(600, "left"))
            sim.device.settings.loss = 1.0  # the relay falls silent
            task = asyncio.create_task(daemon.handle(Command("off", ("left",))))
            await clock.advance_until(task.done)
            (now,) = await task
            assert not now["ok"] and sim.burner.lit
            due = timer["message"].split("shut-off at ")[1].split(" ")[0]
            assert now["message"].endswith(f"; its timer at {due} stays armed")
            assert set(daemon.timers) == {"left"} and stored_timers(db) == ["left"]
            sim.device.settings.loss = 0.0  # back before the timer comes due
            await clock.advance(600)
            await clock.advance_until(lambda: bool(fired))
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]
            assert not sim.burner.lit and daemon.timers == {}

    asyncio.run(main())
    assert stored_timers(db) == []


def test_a_timer_coming_due_during_a_failed_cut_fires_itself(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """The immediate cut fails while the timer comes due: the timer is not lost."""
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim),
                           retry_after=(5.0,)) as (daemon, fired):
            await daemon.handle(off_in(60, "left"))
            await clock.advance(59.5)
            sim.device.settings.loss = 1.0
            task = asyncio.create_task(daemon.handle(Command("off", ("left",))))
            await clock.advance(1)  # due now, while the cut waits for a silent relay
            await asyncio.wait_for(task, 5)
            assert "stays armed" in task.result()[0]["message"]
            sim.device.settings.loss = 0.0
            await clock.advance_until(lambda: bool(fired))
            assert [(b, ok) for b, ok, _ in fired] == [("left", True)]
            assert not sim.burner.lit and daemon.timers == {}

    asyncio.run(main())


def test_a_timer_coming_due_during_a_confirmed_cut_does_not_pulse_again(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim)) as (daemon, fired):
            await daemon.handle(off_in(60, "left"))
            await clock.advance(59.5)
            task = asyncio.create_task(daemon.handle(Command("off", ("left",))))
            for _ in range(100):  # the cut is confirmed; the pulse (1 s) is under way
                await asyncio.sleep(0.02)
                if sim.device.energised:
                    break
            await clock.advance(0.6)  # the timer comes due mid-pulse
            await clock.advance_until(task.done)
            (now,) = await task
            assert now["ok"] and "pending timer is no longer needed" in now["message"]
            await clock.advance(120)
            assert fired == [] and daemon.timers == {}
            assert sent_cuts(sim) == 1, "one pulse, not a second right after"

    asyncio.run(main())
    assert stored_timers(db) == []


def test_a_failed_max_burn_cut_leaves_the_timer_armed(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    extra = "      flame: {topic: kitchen/flame}\n      max_burn: 2h\n"
    config = parse_config("stove:\n  deadline: 1s\n  burners:\n"
                          + burner_yaml("left", sim, extra=extra) + "mqtt: {host: 127.0.0.1}\n")
    db = tmp_path / "g.db"

    async def main() -> None:
        stove = Stove(config.stove, build_relays(config), sleep=clock.sleep)
        daemon = Daemon(stove, Store(db), clock)
        fired: Fired = []
        daemon.fired.append(lambda t, o, late: fired.append((t.burner, o.ok, late)))
        daemon.start()
        try:
            await daemon.handle(off_in(3 * 3600, "left"))
            daemon.flame("left", True)
            await clock.advance(7199)
            sim.device.settings.loss = 1.0
            await clock.advance(2, settle=1.5)  # max_burn: the cut fails on a silent relay
            assert sim.burner.lit and daemon.problem["left"] is not None
            assert set(daemon.timers) == {"left"} and stored_timers(db) == ["left"]
            sim.device.settings.loss = 0.0
            # the guard tries again a minute later (announced again): that confirmed cut
            # does the timer's work too
            await clock.advance(50)
            assert sim.burner.lit and daemon.guard.warning("left") is not None
            await clock.advance_until(lambda: not sim.burner.lit)
            await clock.advance_until(lambda: not daemon.timers)
            assert fired == [] and stored_timers(db) == []
        finally:
            await daemon.stop()
            await stove.close()
            daemon.store.close()

    asyncio.run(main())


def test_a_timer_whose_retries_all_fail_stays_armed_and_visible(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Retries exhausted: the timer keeps trying (alerting) until a cut is confirmed."""
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim),
                           retry_after=(5.0,)) as (daemon, fired):
            await daemon.handle(off_in(10, "left"))
            sim.device.settings.loss = 1.0
            await clock.advance(10.1, settle=1.5)
            await clock.advance(5, settle=1.5)
            assert [(b, ok) for b, ok, _ in fired] == [("left", False)]
            assert set(daemon.timers) == {"left"} and stored_timers(db) == ["left"]
            (status,) = await daemon.handle(Command("status", ("left",)))
            assert not status["ok"] and status["timer"] is not None
            assert "shut-off FAILED" in status["message"]
            sim.device.settings.loss = 0.0
            await clock.advance(60)
            await clock.advance_until(lambda: len(fired) == 2)
            assert fired[1][:2] == ("left", True) and fired[1][2] > 60, "said how late"
            assert not sim.burner.lit and daemon.timers == {}

    asyncio.run(main())
    assert stored_timers(db) == []


def test_a_failing_timer_can_be_cancelled_between_its_tries(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    clock = FakeClock()
    db = tmp_path / "g.db"

    async def main() -> None:
        async with running(db, clock, burner_yaml("left", sim), retry_after=()) as (daemon, fired):
            await daemon.handle(off_in(10, "left"))
            sim.device.settings.loss = 1.0
            await clock.advance(10.1, settle=1.5)
            assert [(b, ok) for b, ok, _ in fired] == [("left", False)]
            (cancelled,) = await daemon.handle(Command("cancel", ("left",)))
            assert cancelled["ok"] and cancelled["message"].startswith("timer cancelled")
            sim.device.settings.loss = 0.0
            await clock.advance(3600)
            assert len(fired) == 1 and sim.burner.lit and daemon.timers == {}

    asyncio.run(main())
    assert stored_timers(db) == []


def test_a_daemon_starting_while_a_cancel_holds_the_store_waits_for_it(tmp_path: Path) -> None:
    """`stove cancel` with no daemon takes the store for a moment: a daemon starting then waits."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    cancel = Store(tmp_path / "g.db")
    with ThreadPoolExecutor(1) as pool:
        # the daemon waits out the 0.3 s instead of refusing to start
        daemon = pool.submit(lambda: Store(tmp_path / "g.db").close())
        time.sleep(0.3)
        cancel.close()
        daemon.result(timeout=5)


def test_a_bug_in_a_timer_firing_does_not_lose_the_timer(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sim = miio_relay()
    clock = FakeClock()

    async def main() -> None:
        async with running(tmp_path / "g.db", clock, burner_yaml("left", sim),
                           retry_after=()) as (daemon, fired):
            real = daemon.stove.shut_off

            async def broken(names: object) -> list[Outcome]:
                raise RuntimeError("a bug")

            daemon.stove.shut_off = broken  # type: ignore[method-assign]
            await daemon.handle(off_in(10, "left"))
            await clock.advance(10.1)
            assert [(b, ok) for b, ok, _ in fired] == [("left", False)]
            assert set(daemon.timers) == {"left"}
            daemon.stove.shut_off = real  # type: ignore[method-assign]
            await clock.advance(60)
            await clock.advance_until(lambda: len(fired) == 2)
            assert fired[1][:2] == ("left", True) and not sim.burner.lit

    asyncio.run(main())
    assert "a bug" in caplog.text, "the traceback is in the log"
