"""Number: "shut off in N minutes". Setting it arms the burner's timer; 0 cancels it.

Its value is the minutes left on the timer (rounded up), 0 when none runs.
"""

from __future__ import annotations

import math

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN, MAX_DELAY_MINUTES
from .coordinator import GasStoveCoordinator
from .entity import GasStoveEntity

SHUT_OFF_IN = NumberEntityDescription(
    key="shut_off_in", translation_key="shut_off_in", icon="mdi:timer-outline",
    native_min_value=0, native_max_value=MAX_DELAY_MINUTES, native_step=1,
    native_unit_of_measurement=UnitOfTime.MINUTES, mode=NumberMode.BOX,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator: GasStoveCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities(GasStoveTimerNumber(coordinator, b, SHUT_OFF_IN) for b in coordinator.config.burners)


class GasStoveTimerNumber(GasStoveEntity, NumberEntity):
    @property
    def native_max_value(self) -> float:
        return float(self.coordinator.max_burn_minutes or MAX_DELAY_MINUTES)

    @property
    def native_value(self) -> float:
        timer = self.coordinator.timers.get(self.burner)
        if timer is None:
            return 0
        left = (timer.due - dt_util.utcnow()).total_seconds()
        return max(0, math.ceil(left / 60))

    async def async_set_native_value(self, value: float) -> None:
        if value <= 0:
            await self.coordinator.async_cancel([self.burner])
        else:
            await self.coordinator.async_schedule([self.burner], value * 60, source="number")
