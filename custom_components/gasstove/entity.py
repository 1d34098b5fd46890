"""Base entity: one device per stove, entities per burner."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import GasStoveCoordinator


class GasStoveEntity(CoordinatorEntity[GasStoveCoordinator]):
    _attr_has_entity_name = True

    def __init__(
        self, coordinator: GasStoveCoordinator, burner: str, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self.burner = burner
        entry = coordinator.entry
        # The entry's unique id is its first relay's address: stable across
        # reinstalls, unlike the entry id.
        base = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{base}_{burner}_{description.key}"
        self._attr_translation_placeholders = {"burner": burner.replace("_", " ").capitalize()}
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, base)},
            name=entry.title,
            manufacturer="gasstove",
            model="Flame-failure loop relay",
        )

    @property
    def available(self) -> bool:
        """Always: Home Assistant skips, without a word, calls to an unavailable
        entity, and a shut-off or lock must be tried and fail loudly instead.
        A relay that does not answer shows as an unknown valve and lock."""
        return True
