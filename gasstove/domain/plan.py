"""The cut plan: which relay state cuts the loop, which lets the stove work.

Pure translation from how the relay is wired (docs/design.md §1) to relay states.
A user says "stove off"; only this module knows what that means for a coil.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from .relay import RelayState


class Wiring(StrEnum):
    #: Loop through the NC contact: energising the relay cuts. A dead relay
    #: leaves a plain, working stove.
    NORMALLY_CLOSED = "normally_closed"
    #: Loop through the NO contact: the relay must be energised for the stove
    #: to work. A power cut or a dead relay puts the flame out.
    NORMALLY_OPEN = "normally_open"


@dataclass(frozen=True)
class DevicePulse:
    """Which pulses the relay's own firmware can time (so they end even if we die)."""

    on: bool = False  #: energise, then release by itself
    off: bool = False  #: release, then energise by itself


@dataclass(frozen=True)
class CutPlan:
    cut: bool  #: relay energised while the loop is open
    rest: bool  #: relay energised while the stove works normally
    seconds: float  #: how long a shut-off holds the loop open
    device_timed: bool  #: the relay ends the pulse by itself

    def loop_open(self, energised: bool) -> bool:
        """Whether a relay reporting ``energised`` holds the loop open."""
        return energised == self.cut

    def describe(self, energised: bool | None) -> RelayState:
        if energised is None:
            return "unknown"
        return "cutting" if self.loop_open(energised) else "resting"


@functools.cache  # (few distinct plans, each shared by the burners it fits: issue 17)
def plan_cut(wiring: Wiring, cut_seconds: float, device: DevicePulse = DevicePulse()) -> CutPlan:
    cut = wiring is Wiring.NORMALLY_CLOSED
    return CutPlan(
        cut=cut,
        rest=not cut,
        seconds=cut_seconds,
        device_timed=device.on if cut else device.off,
    )
