"""Valve (device class gas): the burner's flame-failure loop as Home Assistant sees it.

"open" means the loop is closed, so the burner *can* burn (we cannot see a
flame); "closing" is a cut in progress; "closed" means the loop is held
open (locked, or a relay left cutting). Only CLOSE is supported: no command
of this integration may open gas (DESIGN.md §2 rule 1).
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.valve import (
    ValveDeviceClass,
    ValveEntity,
    ValveEntityDescription,
    ValveEntityFeature,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .coordinator import GasStoveCoordinator
from .entity import GasStoveEntity

VALVE = ValveEntityDescription(key="valve", translation_key="valve", device_class=ValveDeviceClass.GAS)


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator: GasStoveCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities(GasStoveValve(coordinator, b, VALVE) for b in coordinator.config.burners)


class GasStoveValve(GasStoveEntity, ValveEntity):
    _attr_supported_features = ValveEntityFeature.CLOSE
    _attr_reports_position = False

    @property
    def is_closing(self) -> bool:
        return self.burner in self.coordinator.acting

    @property
    def is_closed(self) -> bool | None:
        data = (self.coordinator.data or {}).get(self.burner)
        if data is None or data.state == "unknown":
            return None
        return data.state == "cutting"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        data = (self.coordinator.data or {}).get(self.burner)
        return {"relay": data.state if data else "unknown"}

    async def async_close_valve(self) -> None:
        await self.coordinator.async_shut_off([self.burner], source="valve")
