"""Shut-off, lock, unlock and status through the Stove service, on simulated relays over UDP.

The pulse length is waited on with an injected sleep, so no test sleeps for
cut_seconds; everything else (UDP, python-miio, read-back) is real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gasstove import control
from gasstove.adapters.burner_guard import BurnerGuard, FileBurnerGuard
from gasstove.adapters.config_file import parse_config
from gasstove.adapters.relays import build_relays
from gasstove.control import Outcome, Stove
from gasstove.domain.errors import Unconfirmed
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_miio import SimRelay, burner_yaml
from .fixtures_mqtt import Mosquitto, MqttSim


class FakeSleep:
    def __init__(self, during: Callable[[], None] | None = None) -> None:
        self.slept: list[float] = []
        self.during = during

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.during:
            self.during()


def stove_for(*burners: str, sleep: FakeSleep, deadline: str = "1.5s",
              guard: BurnerGuard | None = None) -> Stove:
    text = f"stove:\n  name: test\n  deadline: {deadline}\n  burners:\n" + "".join(burners)
    config = parse_config(text)
    return Stove(config.stove, build_relays(config), sleep=sleep, guard=guard)


def act(stove: Stove, action: str, names: list[str]) -> list[Outcome]:
    async def main() -> list[Outcome]:
        try:
            return list(await getattr(stove, action)(names))
        finally:
            await stove.close()

    return asyncio.run(main())


@pytest.mark.parametrize(("wiring", "cut_energises"),
                         [("normally_closed", True), ("normally_open", False)])
def test_shut_off_puts_the_flame_out_and_restores_the_relay(
    miio_relay: Callable[..., SimRelay], wiring: str, cut_energises: bool,
) -> None:
    sim = miio_relay(wiring=wiring)
    seen_during_pulse: list[tuple[bool, bool]] = []
    sleep = FakeSleep(lambda: seen_during_pulse.append((sim.device.energised, sim.burner.lit)))
    (outcome,) = act(stove_for(burner_yaml("left", sim, wiring=wiring), sleep=sleep),
                     "shut_off", ["left"])
    assert outcome.ok and outcome.restored and outcome.relay == "resting"
    assert seen_during_pulse == [(cut_energises, False)]
    assert sleep.slept == [1.0]
    assert sim.device.energised is not cut_energises  # back at rest
    state = sim.burner.state()
    assert state.loop_closed and not state.flame, "the loop is closed but the flame stays out"


def test_every_burner_is_cut_at_once_and_a_dead_one_does_not_hold_up_the_other(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay()
    dead = free_loopback_host()
    stove = stove_for(burner_yaml("left", sim), burner_yaml("right", None, host=dead),
                      sleep=FakeSleep())
    left, right = act(stove, "shut_off", stove.resolve([]))
    assert left.ok and left.cut_ms is not None and left.cut_ms < 500
    assert not right.ok and right.message.startswith("shut-off NOT confirmed: no answer from")
    assert not sim.burner.lit


def test_a_locked_burner_stays_locked_through_a_shut_off(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Each step from another process (a Stove of its own), sharing the burners' records."""
    sim = miio_relay()
    yaml = burner_yaml("left", sim)

    def stove() -> Stove:
        return stove_for(yaml, sleep=FakeSleep(), guard=FileBurnerGuard(tmp_path))

    (locked,) = act(stove(), "lock", ["left"])
    assert locked.ok and locked.relay == "cutting" and sim.device.energised
    sim.device.requests.clear()
    (off,) = act(stove(), "shut_off", ["left"])
    assert off.ok and off.relay == "cutting" and off.message.startswith("locked: loop held open")
    assert sim.device.energised, "the shut-off must not have unlocked it"
    writes = [r["params"][0]["value"] for r in sim.device.requests
              if r.get("method") == "set_properties"]
    assert writes == [True], "the hold is sent and confirmed, never taken from a read"
    (status,) = act(stove(), "status", ["left"])
    assert status.relay == "cutting" and status.message.startswith("locked: held off")
    (unlocked,) = act(stove(), "unlock", ["left"])
    assert unlocked.ok and not sim.device.energised
    (off,) = act(stove(), "shut_off", ["left"])
    assert off.ok and off.restored and not sim.device.energised, "unlocked: a plain pulse again"


def test_a_restore_that_fails_is_reported_as_a_relay_left_cutting(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay()
    # the relay dies during the pulse: the cut happened, the restore cannot
    sleep = FakeSleep(lambda: setattr(sim.device.settings, "loss", 1.0))
    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=sleep, deadline="1s"),
                     "shut_off", ["left"])
    assert not outcome.ok and outcome.restored is False and outcome.relay == "cutting"
    assert "cannot be relit until `stove unlock left`" in outcome.message
    assert not sim.burner.lit


def test_cancelled_mid_pulse_still_restores(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    stove = stove_for(burner_yaml("left", sim), sleep=FakeSleep())

    async def interrupted_sleep(seconds: float) -> None:
        raise asyncio.CancelledError  # what Ctrl-C does to the pulse wait

    stove._sleep = interrupted_sleep
    with pytest.raises(asyncio.CancelledError):
        act(stove, "shut_off", ["left"])
    assert not sim.device.energised and sim.burner.state().loop_closed


def test_status_of_an_unreachable_relay_says_so() -> None:
    stove = stove_for(burner_yaml("left", None, host=free_loopback_host()), sleep=FakeSleep(),
                      deadline="0.5s")
    (outcome,) = act(stove, "status", ["left"])
    assert not outcome.ok and outcome.relay == "unknown"
    assert outcome.message.startswith("relay not reachable: no answer from")


def test_names_aliases_and_all_resolve(miio_relay: Callable[..., SimRelay]) -> None:
    from gasstove.domain.errors import UsageError

    extra = "      aliases: [左边, Back Left]\n"
    stove = stove_for(burner_yaml("left", None, extra=extra),
                      burner_yaml("right", None, host="127.0.0.253"), sleep=FakeSleep())
    assert stove.resolve(["左边"]) == ["left"]
    assert stove.resolve(["back left", "right", "left"]) == ["left", "right"]
    assert stove.resolve(["all"]) == stove.resolve([]) == ["left", "right"]
    with pytest.raises(UsageError, match=r"unknown burner 'middle' \(this stove has: left, right\)"):
        stove.resolve(["middle"])


# -- issue 13: success only from a report after our command; a shut-off never queues behind a read


def test_a_relay_left_cutting_is_cut_again_and_restored_not_taken_for_done(
    miio_relay: Callable[..., SimRelay],
) -> None:
    """A read saying "cut" before sending proves nothing: the shut-off sends and pulses anyway."""
    sim = miio_relay()
    sim.device.energised = True  # left cutting by something, no lock asked for
    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep()), "shut_off", ["left"])
    writes = [r for r in sim.device.requests if r.get("method") == "set_properties"]
    assert [w["params"][0]["value"] for w in writes] == [True, False], "a cut, then a restore"
    assert outcome.ok and outcome.restored and outcome.relay == "resting", outcome.message
    assert not sim.device.energised and sim.burner.state().loop_closed


def test_a_retained_forged_cut_state_is_no_shut_off(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim],
) -> None:
    """ESPHome retains its state topic: anyone may leave an "ON" there. It must not stop the cut."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from .test_mqtt import block
    from .test_mqtt import stove_for as mqtt_stove

    sim = mqtt_sim(block("esphome"))
    forger = paho.Client(CallbackAPIVersion.VERSION2)
    forger.connect(mosquitto.host, mosquitto.port)
    forger.loop_start()
    state_topic = f"{sim.relay['topic']}/switch/relay/state"
    forger.publish(state_topic, "ON", qos=1, retain=True).wait_for_publish(2)
    forger.disconnect()
    forger.loop_stop()
    assert sim.burner.lit and not sim.sim.energised
    stove, _ = mqtt_stove(mosquitto, {"front": sim.relay})
    (outcome,) = act(stove, "shut_off", ["front"])
    assert not sim.burner.lit, f"nothing was sent, yet: {outcome.message}"
    assert outcome.ok and outcome.restored and sim.burner.state().loop_closed


def test_a_status_read_on_a_silent_relay_does_not_delay_a_shut_off(
    miio_relay: Callable[..., SimRelay],
) -> None:
    """HA and the daemon poll with the full deadline; a shut-off must not wait for that read."""
    sim = miio_relay()
    stove = stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="3s")
    relay = stove.relays["left"]
    real_read = relay.read

    polls = []

    async def silent_read(*, deadline: float) -> bool:
        if not polls:  # the poll's read gets no answer until its deadline
            polls.append(deadline)
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            raise Unconfirmed("no answer (simulated)")
        return await real_read(deadline=deadline)

    relay.read = silent_read  # type: ignore[method-assign]

    async def main() -> tuple[Outcome, float]:
        try:
            poll = asyncio.create_task(stove.status(["left"]))
            await asyncio.sleep(0.1)  # the poll is waiting on the relay
            start = time.monotonic()
            (outcome,) = await stove.shut_off(["left"])
            elapsed = time.monotonic() - start
            await poll
            return outcome, elapsed
        finally:
            await stove.close()

    outcome, elapsed = asyncio.run(main())
    assert outcome.ok and not sim.burner.lit, outcome.message
    assert elapsed < 1.0, f"the shut-off waited {elapsed:.1f} s behind a status read"


def test_a_burner_another_process_keeps_busy_is_not_acted_on_and_says_so(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Past a deadline and a pulse of waiting, a shut-off fails truthfully rather than act."""
    import fcntl
    import os

    sim = miio_relay()
    guard = FileBurnerGuard(tmp_path)
    held = os.open(tmp_path / "left.record", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # as another process mid-action would
    try:
        stove = stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="0.5s",
                          guard=guard)
        start = time.monotonic()
        (outcome,) = act(stove, "shut_off", ["left"])
        waited = time.monotonic() - start
    finally:
        os.close(held)
    assert not outcome.ok and outcome.sent is False
    assert outcome.message.startswith("shut-off NOT done: another action on left")
    assert sim.device.requests == [] and sim.burner.lit
    assert 1.4 < waited < 3.5, "it waits a deadline (0.5 s) and a pulse (1 s), no longer"


def test_a_lock_that_is_no_longer_held_and_a_damaged_record_are_told(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    guard = FileBurnerGuard(tmp_path)
    (locked,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), guard=guard),
                    "lock", ["left"])
    assert locked.ok
    sim.device.energised = False  # someone switched the relay back by hand
    (status,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), guard=guard),
                    "status", ["left"])
    assert not status.ok and status.message.startswith("lock NOT in effect")
    (tmp_path / "left.record").write_text("{not json")
    # damaged: taken as locked, the side that never lets gas on
    (off,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), guard=guard),
                 "shut_off", ["left"])
    assert off.ok and off.relay == "cutting" and sim.device.energised and not off.restored


def test_a_failure_names_its_kind_for_a_front_end_to_say_in_its_language() -> None:
    """Home Assistant says why an action failed in its user's language from this word,
    not from the English message (issue 21: the Chinese toast was half English)."""
    from gasstove.domain.errors import (
        RelayError,
        RelayOffline,
        RelayRefused,
        RelayUnreachable,
        TokenRejected,
        Unconfirmed,
    )

    kinds = {cls: cls.kind for cls in (RelayError, RelayUnreachable, TokenRejected,
                                       RelayRefused, RelayOffline, Unconfirmed)}
    assert len(set(kinds.values())) == len(kinds), kinds
    assert RelayUnreachable("x").kind == "no_answer"


class _CountingRelay:
    """A relay that answers every read after a turn of the loop, counting the reads
    under way at once (all the relays of one stove share the count)."""

    under_way = 0
    most = 0

    def describe(self) -> str:
        return "counting relay"

    async def read(self, *, deadline: float) -> bool:
        cls = type(self)
        cls.under_way += 1
        cls.most = max(cls.most, cls.under_way)
        await asyncio.sleep(0.001)
        cls.under_way -= 1
        return False

    async def identify(self, *, deadline: float) -> str:
        return self.describe()

    async def switch(self, energised: bool, *, deadline: float,
                     pulse_seconds: float | None = None) -> None:
        raise AssertionError("a status switches nothing")

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        raise AssertionError("a status switches nothing")

    async def close(self) -> None:
        return None


def test_a_status_of_thousands_of_burners_reads_a_bounded_number_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 (scale): the daemon's poll reads every relay; ten thousand reads at once
    hold ten thousand coroutines, futures, timers and MQTT messages at the same time
    (the daemon's RSS high water), with no gain once the connection is busy. At most
    READS_AT_ONCE are under way; every burner is still read, answers in order."""
    monkeypatch.setattr(control, "READS_AT_ONCE", 7)
    names = [f"b{i}" for i in range(40)]
    config = parse_config("stove:\n  name: test\n  burners:\n" + "".join(
        burner_yaml(name, None, host=f"127.0.1.{i + 1}") for i, name in enumerate(names)))
    stove = Stove(config.stove, {name: _CountingRelay() for name in names})
    outcomes = act(stove, "status", names)
    assert [o.burner for o in outcomes] == names
    assert all(o.ok and o.relay == "resting" for o in outcomes)
    assert _CountingRelay.most == 7
