"""Number: "shut off in N minutes". Setting it arms the burner's timer; 0 cancels it.

Its value is the minutes left on the timer (rounded up), 0 when none runs.

Its ``max`` attribute (what the dashboard offers) is the stove's longest timer.
Home Assistant refuses a value above an entity's range itself, in its own words
("Value 500 ... outside valid range 0 - 120.0"), before the entity hears of it:
so the range the entity takes is the library's 24 hours, and a value above the
longest timer is refused by the coordinator, naming that limit.
Whatever a set does, the entity then writes its state again: the box shows the
timer that really runs, not the number typed into it.
"""

from __future__ import annotations

import math
from typing import Any

from homeassistant.components.number import ATTR_MAX, NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import MAX_DELAY_MINUTES
from .coordinator import GasStoveConfigEntry
from .entity import GasStoveEntity, per_burner

#: Burners are independent (each has its own timer).
PARALLEL_UPDATES = 0

SHUT_OFF_IN = NumberEntityDescription(
    key="shut_off_in", translation_key="shut_off_in",
    native_min_value=0, native_max_value=MAX_DELAY_MINUTES, native_step=1,
    native_unit_of_measurement=UnitOfTime.MINUTES, mode=NumberMode.BOX,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(per_burner(entry.runtime_data, (GasStoveTimerNumber, SHUT_OFF_IN)))


class GasStoveTimerNumber(GasStoveEntity, NumberEntity):
    @property
    def capability_attributes(self) -> dict[str, Any]:
        return {**super().capability_attributes,
                ATTR_MAX: float(self.coordinator.longest_timer_minutes or MAX_DELAY_MINUTES)}

    @property
    def native_value(self) -> float:
        timer = self.coordinator.timers.get(self.burner)
        if timer is None:
            return 0
        left = (timer.due - dt_util.utcnow()).total_seconds()
        return max(0, math.ceil(left / 60))

    async def async_set_native_value(self, value: float) -> None:
        try:
            if value <= 0:
                await self.coordinator.async_cancel([self.burner])
            else:
                await self.coordinator.async_schedule([self.burner], value * 60, source="number")
        finally:
            self.async_write_ha_state()
