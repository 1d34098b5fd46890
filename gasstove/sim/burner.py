"""A gas burner with a thermocouple flame-failure device (docs/design.md §1).

Parts: a knob that can be turned and pushed in, a spark igniter, a safety
valve whose magnet *holds* the armature while enough thermocouple current
flows but cannot *pull* it in (only a pushed knob does), the thermocouple
whose EMF rises in a flame and decays without one, and the relay contact in
series with the thermocouple loop.

Time is the caller's: pass a ``clock`` so tests and the demo decide how fast
it runs. The state is integrated analytically between events, so asking at
any instant is exact and cheap.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.plan import Wiring

#: Thermocouple EMF in a steady flame (typical 18–30 mV).
FLAME_EMF_MV = 25.0
#: Below this the magnet can no longer hold the armature.
HOLD_MV = 8.0
#: Heating and cooling time constants of the thermocouple tip.
HEAT_TAU_S = 2.5
COOL_TAU_S = 9.0


@dataclass(frozen=True)
class BurnerState:
    at: float
    knob_open: bool
    knob_pushed: bool
    loop_closed: bool
    valve_open: bool
    flame: bool
    emf_mv: float

    def describe(self) -> str:
        flame = "FLAME" if self.flame else "out"
        return (
            f"{flame:5} valve {'open  ' if self.valve_open else 'closed'} "
            f"emf {self.emf_mv:4.1f} mV loop {'closed' if self.loop_closed else 'OPEN  '}"
        )


class Burner:
    """One burner. Thread-safe: a simulated relay and a display may share it."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.RLock()
        self._t = clock()
        self._knob_open = False
        self._knob_pushed = False
        self._loop_closed = True
        self._armature_held = False
        self._flame = False
        self._emf = 0.0

    # -- what a person does -------------------------------------------------
    def push_and_turn(self) -> None:
        """Push the knob in and turn it: the valve is held open by hand, the spark lights."""
        with self._lock:
            self._advance()
            self._knob_open = True
            self._knob_pushed = True
            self._armature_held = True
            self._flame = True  # piezo spark in flowing gas

    def release(self) -> None:
        """Let go of the knob: from now on only thermocouple current holds the valve."""
        with self._lock:
            self._advance()
            self._knob_pushed = False
            self._settle()

    def turn_off(self) -> None:
        with self._lock:
            self._advance()
            self._knob_open = False
            self._knob_pushed = False
            self._flame = False
            self._armature_held = False

    def blow_out(self) -> None:
        """A draught or a boil-over: the flame goes out, gas keeps flowing until the valve drops."""
        with self._lock:
            self._advance()
            self._flame = False

    # -- what the relay does ------------------------------------------------
    def set_loop(self, closed: bool) -> None:
        with self._lock:
            self._advance()
            self._loop_closed = closed
            self._settle()

    def set_relay(self, energised: bool, wiring: Wiring) -> None:
        """The relay contact in the loop: which contact the loop runs through decides."""
        closed = not energised if wiring == Wiring.NORMALLY_CLOSED else energised
        self.set_loop(closed)

    # -- what can be observed -----------------------------------------------
    def state(self) -> BurnerState:
        with self._lock:
            self._advance()
            return BurnerState(
                at=self._t,
                knob_open=self._knob_open,
                knob_pushed=self._knob_pushed,
                loop_closed=self._loop_closed,
                valve_open=self._valve_open(),
                flame=self._flame,
                emf_mv=self._emf,
            )

    @property
    def lit(self) -> bool:
        return self.state().flame

    # -- physics --------------------------------------------------------------
    def _valve_open(self) -> bool:
        return self._knob_open and (self._knob_pushed or self._armature_held)

    def _holding(self, emf: float) -> bool:
        return self._loop_closed and emf >= HOLD_MV

    def _settle(self) -> None:
        """Apply the instant consequences of the current state."""
        if not self._knob_pushed and self._armature_held and not self._holding(self._emf):
            # The spring wins the moment the current stops; it never pulls back in.
            self._armature_held = False
        if not self._valve_open():
            self._flame = False

    def _advance(self) -> None:
        now = self._clock()
        dt = now - self._t
        if dt <= 0:
            return
        self._t = now
        if self._flame:
            self._emf = FLAME_EMF_MV + (self._emf - FLAME_EMF_MV) * math.exp(-dt / HEAT_TAU_S)
        else:
            self._emf *= math.exp(-dt / COOL_TAU_S)
        self._settle()
