from __future__ import annotations

from typing import get_args

from gasstove.domain.plan import DevicePulse, Wiring, plan_cut
from gasstove.domain.relay import RelayState


def test_normally_closed_wiring_cuts_by_energising() -> None:
    plan = plan_cut(Wiring.NORMALLY_CLOSED, 3)
    assert (plan.cut, plan.rest, plan.seconds) == (True, False, 3)
    assert plan.describe(True) == "cutting" and plan.describe(False) == "resting"


def test_normally_open_wiring_cuts_by_releasing() -> None:
    plan = plan_cut(Wiring.NORMALLY_OPEN, 3)
    assert (plan.cut, plan.rest) == (False, True)
    assert plan.describe(False) == "cutting" and plan.describe(None) == "unknown"


def test_the_device_times_the_pulse_only_in_the_direction_it_can() -> None:
    on_only = DevicePulse(on=True)
    assert plan_cut(Wiring.NORMALLY_CLOSED, 3, on_only).device_timed
    assert not plan_cut(Wiring.NORMALLY_OPEN, 3, on_only).device_timed
    assert plan_cut(Wiring.NORMALLY_OPEN, 3, DevicePulse(off=True)).device_timed
    assert not plan_cut(Wiring.NORMALLY_CLOSED, 3).device_timed


def test_relay_states_are_the_three_words_every_front_end_says() -> None:
    """``RelayState`` names what a plan makes of a report, and nothing else."""
    said = {plan_cut(wiring, 3).describe(energised)
            for wiring in Wiring for energised in (True, False, None)}
    assert said == set(get_args(RelayState)) == {"resting", "cutting", "unknown"}
