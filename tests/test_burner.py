"""The physical model behaves like a thermocouple flame-failure device (docs/design.md §1)."""

from __future__ import annotations

from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def lit(clock: Clock) -> Burner:
    burner = Burner("left", clock)
    burner.push_and_turn()
    clock.t += 4
    burner.release()
    return burner


def test_lighting_needs_the_knob_held_until_the_thermocouple_is_warm() -> None:
    clock = Clock()
    burner = Burner("left", clock)
    burner.push_and_turn()
    clock.t += 0.5
    burner.release()
    assert not burner.lit, "released too early: the magnet cannot hold yet"
    assert lit(clock).lit


def test_opening_the_loop_puts_the_flame_out_and_closing_it_does_not_relight() -> None:
    clock = Clock()
    burner = lit(clock)
    burner.set_loop(False)
    assert not burner.lit
    assert not burner.state().valve_open
    clock.t += 3
    burner.set_loop(True)
    clock.t += 60
    state = burner.state()
    assert state.loop_closed and not state.valve_open and not state.flame


def test_after_a_cut_a_hand_on_the_knob_relights_it() -> None:
    clock = Clock()
    burner = lit(clock)
    burner.set_loop(False)
    burner.set_loop(True)
    burner.push_and_turn()
    clock.t += 4
    burner.release()
    clock.t += 60
    assert burner.lit


def test_a_locked_burner_goes_out_as_soon_as_the_knob_is_released() -> None:
    clock = Clock()
    burner = Burner("left", clock)
    burner.set_loop(False)
    burner.push_and_turn()
    assert burner.lit, "held by hand, gas flows and the spark lights it"
    clock.t += 10
    burner.release()
    assert not burner.lit


def test_a_blown_out_flame_closes_the_valve_within_the_standard_60_s() -> None:
    clock = Clock()
    burner = lit(clock)
    clock.t += 60
    burner.blow_out()
    closed_after = None
    for tenth in range(1, 601):
        clock.t += 0.1
        if not burner.state().valve_open:
            closed_after = tenth / 10
            break
    assert closed_after is not None and 5 <= closed_after <= 20  # real stoves: 10–20 s


def test_the_relay_contact_follows_the_wiring() -> None:
    clock = Clock()
    nc, no = lit(clock), lit(clock)
    nc.set_relay(True, Wiring.NORMALLY_CLOSED)
    no.set_relay(True, Wiring.NORMALLY_OPEN)
    assert not nc.lit and no.lit
    no.set_relay(False, Wiring.NORMALLY_OPEN)
    assert not no.lit
