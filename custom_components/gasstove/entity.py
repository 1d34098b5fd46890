"""Base entity: one device per stove, entities per burner."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from gasstove import __version__

from .const import CONF_STOVE_ID, DOMAIN
from .coordinator import GasStoveCoordinator


def unique_id(stove_id: str, burner: str, key: str) -> str:
    """A burner's entity's unique id (the logbook finds the burner's entities by it)."""
    return f"{stove_id}_{burner}_{key}"


def per_burner(coordinator: GasStoveCoordinator,
               *kinds: tuple[type[GasStoveEntity], EntityDescription]) -> list[GasStoveEntity]:
    """A platform's entities: one of each kind for every burner, burner by burner."""
    return [kind(coordinator, burner, description)
            for burner in coordinator.config.burners for kind, description in kinds]


class GasStoveEntity(CoordinatorEntity[GasStoveCoordinator]):
    _attr_has_entity_name = True

    def __init__(
        self, coordinator: GasStoveCoordinator, burner: str, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self.burner = burner
        entry = coordinator.entry
        # The stove's own id (const.CONF_STOVE_ID), not a relay's address: reconfiguring
        # a relay changes neither the device nor any entity id.
        base = entry.data[CONF_STOVE_ID]
        self._attr_unique_id = unique_id(base, burner, description.key)
        self._attr_translation_placeholders = {"burner": coordinator.config.display_name(burner)}
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, base)},
            name=entry.title,
            # No model: Home Assistant 2025.4 translates a device's name, never its
            # model, and the stove is the user's, whatever relays it has.
            manufacturer="gasstove",
            sw_version=__version__,
        )

    @property
    def suggested_object_id(self) -> str | None:
        """Entity ids name the burner by its key ("kitchen_left_gas"), not by the name it is
        shown by ("左灶"): ids stay what automations use when a burner is renamed."""
        name = super().suggested_object_id
        shown = self._attr_translation_placeholders["burner"]
        return name.replace(shown, self.burner, 1) if name else name

    @property
    def available(self) -> bool:
        """Always: Home Assistant skips, without a word, calls to an unavailable
        entity, and a shut-off or lock must be tried and fail loudly instead.
        A relay that does not answer shows as an unknown lock and an
        "unreachable" burner."""
        return True
