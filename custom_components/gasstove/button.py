"""Button: shut a burner off now."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import GasStoveConfigEntry
from .entity import GasStoveEntity

#: Burners are independent: one relay that does not answer must not hold up
#: another burner's cut (the library takes one action at a time per burner).
PARALLEL_UPDATES = 0

SHUT_OFF = ButtonEntityDescription(key="shut_off", translation_key="shut_off")


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(GasStoveShutOffButton(coordinator, b, SHUT_OFF) for b in coordinator.config.burners)


class GasStoveShutOffButton(GasStoveEntity, ButtonEntity):
    async def async_press(self) -> None:
        # The press's context: the events and the logbook name the user who pressed.
        await self.coordinator.async_shut_off([self.burner], source="button", context=self._context)
