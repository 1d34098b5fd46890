"""Button: shut a burner off now."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .coordinator import GasStoveCoordinator
from .entity import GasStoveEntity

SHUT_OFF = ButtonEntityDescription(key="shut_off", translation_key="shut_off")


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator: GasStoveCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities(GasStoveShutOffButton(coordinator, b, SHUT_OFF) for b in coordinator.config.burners)


class GasStoveShutOffButton(GasStoveEntity, ButtonEntity):
    async def async_press(self) -> None:
        await self.coordinator.async_shut_off([self.burner], source="button")
