"""Buttons: shut a burner off now; "5 more minutes" (the stove guard's snooze)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DEFAULT_SNOOZE_S
from .coordinator import GasStoveConfigEntry
from .entity import GasStoveEntity, per_burner

#: Burners are independent: one relay that does not answer must not hold up
#: another burner's cut (the library takes one action at a time per burner).
PARALLEL_UPDATES = 0

SHUT_OFF = ButtonEntityDescription(key="shut_off", translation_key="shut_off")
SNOOZE = ButtonEntityDescription(key="snooze", translation_key="snooze")


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(per_burner(entry.runtime_data, (GasStoveShutOffButton, SHUT_OFF),
                                  (GasStoveSnoozeButton, SNOOZE)))


class GasStoveShutOffButton(GasStoveEntity, ButtonEntity):
    async def async_press(self) -> None:
        # The press's context: the events and the logbook name the user who pressed.
        await self.coordinator.async_shut_off([self.burner], source="button", context=self._context)


class GasStoveSnoozeButton(GasStoveEntity, ButtonEntity):
    async def async_press(self) -> None:
        # Refused (a translated error) once the burner reaches its maximum burn time.
        await self.coordinator.guard.async_snooze([self.burner], DEFAULT_SNOOZE_S)
