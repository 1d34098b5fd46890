"""Flame inputs: whether each burner is lit, as the daemon's ``flame`` means it.

A burner may have a flame input: a Home Assistant entity that says whether it
is lit, a ``binary_sensor`` (on = lit) or a temperature ``sensor`` read by the
library's rule (:func:`gasstove.domain.flame.temperature_lit`: lit at or above
``flame_lit_at``, out below ``flame_out_below``, unchanged in between, so a
reading hovering at the threshold neither flaps nor restarts a count). With
one, the integration knows lit/out and the stove guard (guard.py) counts the
maximum burn time and the inactivity cut from it: from when the flame was seen
lit (the sensor state's own ``last_changed``, so a reload of this entry does
not restart the count). An unavailable or unknown sensor says nothing: what it
said last stands (a forgotten burner must still be cut when its sensor drops
off the network).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import CALLBACK_TYPE, Event, State, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util

from gasstove import temperature_lit

from .const import (
    CONF_FLAME,
    CONF_FLAME_ENTITY,
    CONF_FLAME_LIT_AT,
    CONF_FLAME_OUT_BELOW,
    CONF_MAX_BURN,
    LEGACY_FLAME_BAND,
)

if TYPE_CHECKING:
    from .coordinator import GasStoveCoordinator

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlameInput:
    entity_id: str
    #: A temperature sensor's threshold (None: a binary sensor, on = lit)...
    lit_at: float | None = None
    #: ...and the reading below which it is out again.
    out_below: float | None = None

    def lit(self, state: State | None) -> bool | None:
        """Lit or out by ``state``; None when it says nothing new (unavailable, unknown,
        garbage, or a temperature between the two thresholds)."""
        if state is None:
            return None
        if self.lit_at is None:
            return {STATE_ON: True, STATE_OFF: False}.get(state.state)
        try:
            value = float(state.state)
        except ValueError:
            return None
        if value != value:  # NaN
            return None
        return temperature_lit(value, self.lit_at, self.out_below)


def flame_options(options: dict[str, Any]) -> tuple[dict[str, FlameInput], dict[str, float]]:
    """Each burner's flame input and maximum burn time (seconds) from the entry's options."""
    inputs = {}
    for burner, raw in options.get(CONF_FLAME, {}).items():
        if not raw.get(CONF_FLAME_ENTITY):
            continue
        lit_at = raw.get(CONF_FLAME_LIT_AT)
        out_below = raw.get(CONF_FLAME_OUT_BELOW)
        if lit_at is not None and out_below is None:
            out_below = float(lit_at) - LEGACY_FLAME_BAND  # saved before flame_out_below
        inputs[burner] = FlameInput(raw[CONF_FLAME_ENTITY], lit_at, out_below)
    limits = {burner: float(minutes) * 60 for burner, minutes in options.get(CONF_MAX_BURN, {}).items()
              if minutes and burner in inputs}
    return inputs, limits


class FlameWatch:
    """The flame inputs of one stove; ``seen`` is told each change (burner, lit, how
    many seconds ago it changed)."""

    def __init__(self, coordinator: GasStoveCoordinator) -> None:
        self.coordinator = coordinator
        self.inputs, self.max_burn = flame_options(dict(coordinator.entry.options))
        self.inputs = {b: f for b, f in self.inputs.items() if b in coordinator.config.burners}
        #: Lit (True), out (False), or not known (None: no input, or nothing usable heard).
        self.lit: dict[str, bool | None] = dict.fromkeys(coordinator.config.burners)
        self.seen: list[Callable[[str, bool, float], None]] = []
        self._unsub: CALLBACK_TYPE | None = None

    @callback
    def start(self) -> None:
        if not self.inputs:
            return
        hass = self.coordinator.hass
        for burner, flame in self.inputs.items():
            self._update(burner, hass.states.get(flame.entity_id))
        by_entity = {f.entity_id: b for b, f in self.inputs.items()}

        @callback
        def changed(event: Event) -> None:
            self._update(by_entity[event.data["entity_id"]], event.data.get("new_state"))

        self._unsub = async_track_state_change_event(hass, list(by_entity), changed)

    @callback
    def stop(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def _update(self, burner: str, state: State | None) -> None:
        lit = self.inputs[burner].lit(state)
        if lit is None or lit == self.lit[burner]:
            return  # nothing usable heard, or no change: a count under way goes on
        self.lit[burner] = lit
        _LOGGER.info("%s %s: flame %s", self.coordinator.entry.title, burner, "lit" if lit else "out")
        # For a reload: counted from when the sensor changed, not from now.
        age = 0.0 if state is None else max(0.0, (dt_util.utcnow() - state.last_changed).total_seconds())
        for seen in self.seen:
            seen(burner, lit, age)
        self.coordinator.async_update_listeners()
