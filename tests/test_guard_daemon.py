"""The stove guard in `stove serve` on a real mosquitto: simulated Zigbee2MQTT sensors
(presence, smoke alarm, stove-top temperature) in, warnings, snoozes, cuts and notes out.

Virtual time (FakeClock) drives the guard; the relay is a simulated miio device over
real UDP, so a cut is confirmed even while the broker is down.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gasstove.daemon.service import Daemon
from gasstove.sim.broker import Mosquitto
from gasstove.sim.kitchen import KitchenSensors

from .fixtures_daemon import FakeClock
from .fixtures_miio import SimRelay, burner_yaml
from .test_daemon_mqtt import Watcher, run_daemon

#: Writes each note it gets on stdin to the file named by its argument (alerts.on_cut).
NOTE_WRITER = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read())"


@dataclass
class Kitchen:
    base: str
    sim: SimRelay
    sensors: KitchenSensors
    watcher: Watcher
    config: Path
    notes: Path
    clock: FakeClock
    loop: list[asyncio.AbstractEventLoop]

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the daemon's loop (the test body is a thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop[0]).result(60)

    def advance(self, seconds: float) -> None:
        self.run(self.clock.advance(seconds))

    def until(self, done: Callable[[], bool], limit: float = 30) -> None:
        self.run(self.clock.advance_until(done, limit=limit))

    def ready(self) -> None:
        """The daemon listens to the sensors (it says what the guard knows once subscribed)
        and has read its relay."""
        self.watcher.wait(lambda t, p: t == self.topic("guard"))
        self.watcher.wait(lambda t, p: t == self.topic("left/state") and p["reachable"])

    def topic(self, sub: str) -> str:
        return f"{self.base}/{sub}"

    def command(self, burner: str, **command: Any) -> Any:
        ident = secrets.token_hex(3)
        mark = len(self.watcher.messages)
        self.watcher.publish(self.topic(f"{burner}/set"), json.dumps({**command, "id": ident}))
        return self.watcher.wait(lambda t, p: t == self.topic("result")
                                 and p["request"]["id"] == ident, after=mark)

    def warnings(self, after: int = 0) -> list[Any]:
        return [p for t, p, _ in self.watcher.messages[after:] if t == self.topic("warning")]

    def read_notes(self) -> list[dict[str, Any]]:
        if not self.notes.exists():
            return []
        return [json.loads(line) for line in self.notes.read_text().splitlines()]

    def run_daemon(self, body: Callable[[Daemon], None]) -> None:
        run_daemon(self.config, body, clock=self.clock, on_loop=self.loop.append)


@pytest.fixture
def kitchen(tmp_path: Path, mosquitto: Mosquitto,
            miio_relay: Callable[..., SimRelay]) -> Iterator[Callable[..., Kitchen]]:
    made: list[Kitchen] = []

    def make(guard: dict[str, Any] | None = None, *, broker: Mosquitto = mosquitto,
             retain: bool = False) -> Kitchen:
        tag = secrets.token_hex(3)
        base = f"test{tag}/kitchen"
        clock = FakeClock()
        sim = miio_relay()
        sensors = KitchenSensors(sim.burner, host=broker.host, port=broker.port,
                                 base=f"z2m{tag}", clock=clock.monotonic, retain=retain,
                                 occupancy_timeout=3600)  # (tests end motion themselves)
        sensors.start()
        flame = json.dumps(sensors.flame_config())
        notes = tmp_path / f"notes-{tag}.jsonl"
        config = tmp_path / f"gasstove-{tag}.yaml"
        config.write_text(
            "stove:\n  name: kitchen\n  deadline: 1s\n  burners:\n"
            + burner_yaml("left", sim, extra=f"      flame: {flame}\n      max_burn: 2h\n")
            + f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
            f"daemon:\n  database: {tmp_path}/g-{tag}.db\n  socket: {tmp_path}/d-{tag}.sock\n"
            f"  mqtt_topic: {base}\n  discovery_prefix: ha{tag}\n  poll_interval: 1h\n"
            f"alerts:\n  on_cut: {json.dumps([sys.executable, '-c', NOTE_WRITER, str(notes)])}\n"
            f"guard: {json.dumps({**sensors.guard_config(), **(guard or {})})}\n")
        watcher = Watcher(broker, f"{base}/#")
        k = Kitchen(base, sim, sensors, watcher, config, notes, clock, [])
        made.append(k)
        return k

    yield make
    for k in made:
        k.watcher.close()
        k.sensors.stop()


def heat_up(k: Kitchen) -> None:
    """Two minutes of flame under a pan: the probe reports it lit."""
    k.advance(120)
    k.sensors.report_temperature()
    k.watcher.wait(lambda t, p: t == k.topic("left/state") and p["lit"] is True)


def test_nobody_in_the_kitchen_warns_snoozes_and_cuts_with_a_note(
        kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen()

    def body(daemon: Daemon) -> None:
        k.ready()
        k.sensors.motion()
        heat_up(k)
        k.sensors.no_motion()  # everyone left at t = 120 s
        k.watcher.wait(lambda t, p: t == k.topic("guard") and p["presence"]["present"] is False)
        k.advance(539)
        assert k.warnings() == [] and k.sim.burner.lit
        k.advance(1)
        warning = k.watcher.wait(lambda t, p: t == k.topic("warning"))
        assert warning["active"] and warning["burner"] == "left"
        assert warning["reason"] == "inactivity" and warning["seconds_left"] == 60
        assert warning["message"] == "Left burner shuts off in 1m: nobody in the kitchen for 10m"
        state = k.watcher.wait(lambda t, p: t == k.topic("left/state") and p["warning"])
        assert state["warning"]["reason"] == "inactivity" and state["warning"]["cut_at"]

        mark = len(k.watcher.messages)
        result = k.command("left", action="snooze", **{"in": "5m"})
        assert result["ok"] and "held off until" in result["burners"][0]["message"]
        withdrawn = k.watcher.wait(lambda t, p: t == k.topic("warning"), after=mark)
        assert withdrawn == {**withdrawn, "active": False, "ended": "snoozed"}
        k.advance(239)
        assert [w for w in k.warnings(mark) if w["active"]] == []
        k.advance(1)
        again = k.watcher.wait(lambda t, p: t == k.topic("warning") and p["active"], after=mark)
        assert again["seconds_left"] == 60 and k.sim.burner.lit
        k.advance(59.9)
        assert k.sim.burner.lit, "not a moment before the warning said"
        k.until(lambda: not k.sim.burner.lit, limit=2)
        k.advance(2)  # the pulse (cut_seconds 1s) ends: the cut is confirmed
        event = k.watcher.wait(lambda t, p: t == k.topic("event"))
        assert event["reason"] == "inactivity" and event["result"] == "done"
        assert event["message"] == "Left burner shut off after 10m with nobody in the kitchen"
        k.until(lambda: bool(k.read_notes()))
        (note,) = k.read_notes()
        assert note["message"] == event["message"] and note["burner"] == "left"

    k.run_daemon(body)
    warning_retained = [r for t, _, r in k.watcher.messages if t == k.topic("warning")]
    assert warning_retained and not any(warning_retained), "a warning is never retained"


def test_someone_coming_back_withdraws_the_warning(kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen()

    def body(daemon: Daemon) -> None:
        k.ready()
        heat_up(k)  # lit with no presence heard: counted from the lighting
        k.advance(540)
        k.watcher.wait(lambda t, p: t == k.topic("warning") and p["active"])
        k.sensors.motion()
        ended = k.watcher.wait(lambda t, p: t == k.topic("warning") and not p["active"])
        assert ended["ended"] == "someone is in the kitchen"
        k.advance(3600)
        assert k.sim.burner.lit, "present: no inactivity cut"

    k.run_daemon(body)


def test_a_timer_is_warned_of_and_a_snooze_moves_it(kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen()

    def body(daemon: Daemon) -> None:
        k.ready()
        k.command("left", action="off", **{"in": "3m"})
        k.advance(119)
        assert k.warnings() == []
        k.advance(1)
        warning = k.watcher.wait(lambda t, p: t == k.topic("warning") and p["active"])
        assert warning["reason"] == "timer" and warning["seconds_left"] == 60
        result = k.command("left", action="snooze", **{"in": "5m"})
        assert "its timer moved to" in result["burners"][0]["message"]
        assert daemon.timers["left"].due_at == pytest.approx(k.clock.wall() + 300)

        async def stored() -> float:
            return daemon.store.timers()[0].due_at

        assert k.run(stored()) == daemon.timers["left"].due_at, "on disk: it survives a restart"
        k.advance(299)
        assert k.sim.burner.lit
        k.advance(1)
        k.until(lambda: not k.sim.burner.lit, limit=2)
        k.advance(2)  # the pulse (cut_seconds 1s) ends: the cut is confirmed
        event = k.watcher.wait(lambda t, p: t == k.topic("event"))
        assert event["reason"] == "timer" and event["message"] == "Left burner shut off by its timer"

    k.run_daemon(body)


def test_the_maximum_burn_bounds_a_snooze(kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen({"warn_before": "2m"})

    def body(daemon: Daemon) -> None:
        k.ready()
        k.sensors.motion()  # someone stays: only the maximum burn applies
        heat_up(k)
        k.advance(7080)
        warning = k.watcher.wait(lambda t, p: t == k.topic("warning") and p["active"])
        assert warning["reason"] == "max_burn" and warning["seconds_left"] == 120
        result = k.command("left", action="snooze", **{"in": "5m"})
        assert "maximum burn time (2h) is the limit" in result["burners"][0]["message"]
        k.advance(120)
        k.until(lambda: not k.sim.burner.lit, limit=2)
        k.advance(2)  # the pulse (cut_seconds 1s) ends: the cut is confirmed
        event = k.watcher.wait(lambda t, p: t == k.topic("event"))
        assert event["reason"] == "max_burn"

    k.run_daemon(body)


def test_a_warning_nobody_can_hear_does_not_hold_the_cut_back(
        kitchen: Callable[..., Kitchen], own_mosquitto: Mosquitto) -> None:
    """The broker dies before the warning: the cut (miio, over UDP) comes on time."""
    k = kitchen(broker=own_mosquitto)

    def body(daemon: Daemon) -> None:
        k.ready()
        heat_up(k)
        k.sensors.stop()
        own_mosquitto.stop()
        k.advance(538)
        assert k.sim.burner.lit
        k.advance(2)
        assert daemon.guard.warning("left") is not None
        k.advance(59.9)
        assert k.sim.burner.lit
        k.until(lambda: not k.sim.burner.lit, limit=2)
        k.advance(2)  # the pulse (cut_seconds 1s) ends: the cut is confirmed
        k.until(lambda: any(n["reason"] == "inactivity" for n in k.read_notes()))
        # (on_cut needs no broker: the bridge's goodbye was noted too, as offline)
        assert {n["reason"] for n in k.read_notes()} == {"inactivity", "hazard_offline"}

    k.run_daemon(body)


def test_a_retained_smoke_alarm_at_start_cuts_and_locks_every_burner(
        kitchen: Callable[..., Kitchen], miio_relay: Callable[..., SimRelay]) -> None:
    right = miio_relay("right")
    k = kitchen(retain=True)
    text = k.config.read_text()
    head, tail = text.split("mqtt:", 1)
    k.config.write_text(head + burner_yaml("right", right) + "mqtt:" + tail)
    k.sensors.set_smoke(True)  # retained: it was on before the daemon started

    def body(daemon: Daemon) -> None:
        event = k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard")
        assert event["message"].startswith("Smoke alarm: every burner shut off and locked")
        assert not k.sim.burner.lit and not right.burner.lit
        assert daemon.stove.locked("left") and daemon.stove.locked("right")
        k.until(lambda: any(n["reason"] == "hazard" for n in k.read_notes()))

        # the sensor clears: noted, the burners stay locked until a person unlocks them
        k.sensors.retain = False
        k.sensors.set_smoke(False)
        clear = k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard_clear")
        assert "stay locked" in clear["message"] and daemon.stove.locked("left")
        result = k.command("left", action="unlock")
        assert result["ok"] and not daemon.stove.locked("left")

    k.run_daemon(body)


def test_a_retained_clear_never_masks_a_live_alarm_and_an_offline_sensor_only_warns(
        kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen(retain=True)
    k.sensors.set_smoke(False)  # retained "clear" from long ago

    def body(daemon: Daemon) -> None:
        k.watcher.wait(lambda t, p: t == k.topic("guard") and p["hazards"])
        k.sensors.device_offline("smoke")
        offline = k.watcher.wait(lambda t, p: t == k.topic("event")
                                 and p["reason"] == "hazard_offline")
        assert "offline" in offline["message"]
        assert k.sim.burner.lit and not daemon.stove.locked("left"), "offline is not a fire"
        guard = k.watcher.wait(lambda t, p: t == k.topic("guard")
                               and p["hazards"][0]["online"] is False)
        assert guard["hazards"][0]["active"] is None, "a retained clear is not trusted"

        k.sensors.retain = False
        k.sensors.set_smoke(True)
        k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard")
        assert not k.sim.burner.lit and daemon.stove.locked("left")
        # a reconnect brings the retained "clear" again: the alarm stands
        daemon.guard.hazard(0, b'{"smoke": false}', True)
        assert daemon.guard.guard.hazard_active() == [0]

    k.run_daemon(body)


def test_the_bridge_dying_is_an_offline_smoke_alarm(kitchen: Callable[..., Kitchen]) -> None:
    """Zigbee2MQTT's devices stay "online" when the bridge dies: its LWT tells."""
    k = kitchen()

    def body(daemon: Daemon) -> None:
        k.watcher.wait(lambda t, p: t == k.topic("guard") and p["hazards"][0]["online"])
        k.sensors.kill()
        k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard_offline",
                       timeout=60)  # the broker sends the LWT after 1.5 keep-alives at most
        assert k.sim.burner.lit

    k.run_daemon(body)



def test_a_hazard_lock_the_relay_does_not_confirm_is_alerted_and_tried_again(
        kitchen: Callable[..., Kitchen]) -> None:
    k = kitchen()

    def body(daemon: Daemon) -> None:
        k.ready()
        k.sim.device.settings.loss = 1.0  # the relay falls silent
        k.sensors.set_smoke(True)
        alert = k.watcher.wait(lambda t, p: t == k.topic("alert"))
        assert alert["action"] == "lock" and alert["source"] == "hazard"
        assert alert["reason"].startswith("smoke alarm (")
        event = k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard")
        assert event["result"] == "failed" and event["failed"] == ["left"]
        assert "left NOT confirmed shut off, tried again" in event["message"]
        assert k.sim.burner.lit
        k.sim.device.settings.loss = 0.0
        mark = len(k.watcher.messages)
        k.advance(5)  # the first retry
        k.until(lambda: not k.sim.burner.lit)
        event = k.watcher.wait(lambda t, p: t == k.topic("event") and p["reason"] == "hazard",
                               after=mark)
        assert event["result"] == "done" and event["burners"] == ["left"]
        assert daemon.stove.locked("left")

    k.run_daemon(body)
