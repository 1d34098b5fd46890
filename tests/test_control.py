"""Shut-off, lock, unlock and status through the Stove service, on simulated relays over UDP.

The pulse length is waited on with an injected sleep, so no test sleeps for
cut_seconds; everything else (UDP, python-miio, read-back) is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gasstove.adapters.config_file import parse_config
from gasstove.adapters.relays import build_relays
from gasstove.control import Outcome, Stove
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_miio import SimRelay, burner_yaml


class FakeSleep:
    def __init__(self, during: Callable[[], None] | None = None) -> None:
        self.slept: list[float] = []
        self.during = during

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.during:
            self.during()


def stove_for(*burners: str, sleep: FakeSleep, deadline: str = "1.5s") -> Stove:
    text = f"stove:\n  name: test\n  deadline: {deadline}\n  burners:\n" + "".join(burners)
    config = parse_config(text)
    return Stove(config.stove, build_relays(config), sleep=sleep)


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


def test_a_locked_burner_stays_locked_through_a_shut_off(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    yaml = burner_yaml("left", sim)
    (locked,) = act(stove_for(yaml, sleep=FakeSleep()), "lock", ["left"])
    assert locked.ok and locked.relay == "cutting" and sim.device.energised
    (off,) = act(stove_for(yaml, sleep=FakeSleep()), "shut_off", ["left"])
    assert off.ok and off.relay == "cutting" and "already held off" in off.message
    assert sim.device.energised, "the shut-off must not have unlocked it"
    (status,) = act(stove_for(yaml, sleep=FakeSleep()), "status", ["left"])
    assert status.relay == "cutting" and "cannot be lit" in status.message
    (unlocked,) = act(stove_for(yaml, sleep=FakeSleep()), "unlock", ["left"])
    assert unlocked.ok and not sim.device.energised


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
