"""Flame inputs and maximum burn times, with the daemon's meaning (``stove serve``).

A burner may have a flame input: a Home Assistant entity that says whether it
is lit, a ``binary_sensor`` (on = lit) or a temperature ``sensor`` with a
threshold (lit at or above it, out again below it by ``HYSTERESIS``, so a
reading hovering at the threshold does not restart the count). With one, the
integration knows lit/out, and a maximum burn time shuts the burner off once
it has burned that long, as the daemon's ``max_burn`` does
(:meth:`gasstove.daemon.service.Daemon.flame`): counted from when the flame
was seen lit (the sensor state's own ``last_changed``, so a reload of this
entry does not restart the count; after a restart of Home Assistant, as
after one of the daemon, it counts from the restart), ended by a
report of "out", and not by an unavailable sensor (a forgotten burner must
still be cut when its sensor drops off the network). The shut-off is tried
as a timer's is (:mod:`gasstove.timer_policy`): again after 5 and 15 s, then
after growing pauses while the flame still is not reported out, each failure
reported as a timer's is.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import CALLBACK_TYPE, Event, State, callback
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_state_change_event
from homeassistant.util import dt as dt_util

from gasstove import Outcome, cut_confirmed, format_duration, retry_pause, shut_off_with_retries

from .const import CONF_FLAME, CONF_FLAME_ENTITY, CONF_FLAME_LIT_AT, CONF_MAX_BURN

if TYPE_CHECKING:
    from .coordinator import GasStoveCoordinator

_LOGGER = logging.getLogger(__name__)

#: A temperature flame input reads "out" again this far below its threshold.
HYSTERESIS = 5.0


@dataclass(frozen=True)
class FlameInput:
    entity_id: str
    #: A temperature sensor's threshold (None: a binary sensor, on = lit).
    lit_at: float | None = None

    def lit(self, state: State | None, was: bool | None) -> bool | None:
        """Lit or out by ``state``; None when it says nothing (unavailable, unknown, garbage)."""
        if state is None:
            return None
        if self.lit_at is None:
            return {STATE_ON: True, STATE_OFF: False}.get(state.state)
        try:
            value = float(state.state)
        except ValueError:
            return None
        if value >= self.lit_at:
            return True
        return was if was and value > self.lit_at - HYSTERESIS else False


def flame_options(options: dict[str, Any]) -> tuple[dict[str, FlameInput], dict[str, float]]:
    """Each burner's flame input and maximum burn time (seconds) from the entry's options."""
    inputs = {
        burner: FlameInput(raw[CONF_FLAME_ENTITY], raw.get(CONF_FLAME_LIT_AT))
        for burner, raw in options.get(CONF_FLAME, {}).items() if raw.get(CONF_FLAME_ENTITY)
    }
    limits = {burner: float(minutes) * 60 for burner, minutes in options.get(CONF_MAX_BURN, {}).items()
              if minutes and burner in inputs}
    return inputs, limits


class FlameWatch:
    """The flame inputs of one stove and the maximum burn time of each burner."""

    def __init__(self, coordinator: GasStoveCoordinator) -> None:
        self.coordinator = coordinator
        self.inputs, self.max_burn = flame_options(dict(coordinator.entry.options))
        self.inputs = {b: f for b, f in self.inputs.items() if b in coordinator.config.burners}
        #: Lit (True), out (False), or not known (None: no input, or nothing usable heard).
        self.lit: dict[str, bool | None] = dict.fromkeys(coordinator.config.burners)
        self._due: dict[str, CALLBACK_TYPE] = {}
        self._unsub: CALLBACK_TYPE | None = None

    @callback
    def start(self) -> None:
        if not self.inputs:
            return
        hass = self.coordinator.hass
        for burner, flame in self.inputs.items():
            self._update(burner, flame.lit(state := hass.states.get(flame.entity_id), None), state)
        by_entity = {f.entity_id: b for b, f in self.inputs.items()}

        @callback
        def changed(event: Event) -> None:
            burner = by_entity[event.data["entity_id"]]
            state = event.data.get("new_state")
            self._update(burner, self.inputs[burner].lit(state, self.lit[burner]), state)

        self._unsub = async_track_state_change_event(hass, list(by_entity), changed)

    @callback
    def stop(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        for unsub in self._due.values():
            unsub()
        self._due.clear()

    @callback
    def _update(self, burner: str, lit: bool | None, state: State | None) -> None:
        """``lit`` as read from ``state``: a count starts from when that state was written
        (its ``last_changed``: for a reload, when the sensor last changed, not now)."""
        if lit is None or lit == self.lit[burner]:
            return  # nothing usable heard, or no change: a count under way goes on
        self.lit[burner] = lit
        title = self.coordinator.entry.title
        _LOGGER.info("%s %s: flame %s", title, burner, "lit" if lit else "out")
        if unsub := self._due.pop(burner, None):
            unsub()
        if lit and burner in self.max_burn:
            since = state.last_changed if state is not None else dt_util.utcnow()
            due = since + timedelta(seconds=self.max_burn[burner])

            @callback
            def reached(_now: datetime) -> None:
                self._reached(burner)

            self._due[burner] = async_track_point_in_utc_time(self.coordinator.hass, reached, due)
        self.coordinator.async_update_listeners()

    @callback
    def _reached(self, burner: str) -> None:
        self._due.pop(burner, None)
        coordinator = self.coordinator
        _LOGGER.warning("%s %s has burned for %s (its maximum burn time): shutting it off",
                        coordinator.entry.title, burner, format_duration(self.max_burn[burner]))
        task = coordinator.hass.async_create_background_task(
            self._async_enforce(burner), name=f"gasstove max burn {burner}")
        # The coordinator's stop waits for it: a cut under way ends with its restore.
        coordinator._fire_tasks.add(task)
        task.add_done_callback(coordinator._fire_tasks.discard)

    async def _async_enforce(self, burner: str) -> None:
        """Shut ``burner`` off as a due timer is, until confirmed or its flame is seen out."""
        coordinator = self.coordinator
        again = 0

        async def attempt() -> Outcome:
            (outcome,) = await asyncio.shield(coordinator.hass.async_create_task(
                coordinator._async_cut([burner], source="max_burn")))
            return outcome

        @callback
        def failed(outcome: Outcome, retry_in: float | None) -> None:
            if retry_in is None and self.lit[burner] is not False:
                retry_in = retry_pause(again + 1)
            coordinator._report([outcome], source="max_burn", retry_in=retry_in)

        while self.lit[burner] is not False:
            outcome = await shut_off_with_retries(
                attempt, sleep=coordinator._async_pause, failed=failed)
            if outcome.ok:
                coordinator._report([outcome], source="max_burn")
            if cut_confirmed(outcome):
                return
            again += 1
            await coordinator._async_pause(retry_pause(again))
