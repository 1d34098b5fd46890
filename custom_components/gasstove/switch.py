"""Switch: the child/away lock (the loop held open, so the burner cannot be lit).

Turning it off closes the loop again; that cannot open gas -- relighting
still needs a hand on the knob (DESIGN.md §1).
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .coordinator import GasStoveCoordinator
from .entity import GasStoveEntity

LOCK = SwitchEntityDescription(key="lock", translation_key="lock", icon="mdi:lock")


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator: GasStoveCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities(GasStoveLockSwitch(coordinator, b, LOCK) for b in coordinator.config.burners)


class GasStoveLockSwitch(GasStoveEntity, SwitchEntity):
    @property
    def is_on(self) -> bool | None:
        data = (self.coordinator.data or {}).get(self.burner)
        if data is None or data.state == "unknown":
            return None
        # A burner mid-cut is not locked, even though its loop is open.
        return data.state == "cutting" and self.burner not in self.coordinator.acting

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.coordinator.async_lock([self.burner], True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.coordinator.async_lock([self.burner], False)
