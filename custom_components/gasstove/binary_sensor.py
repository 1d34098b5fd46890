"""Binary sensors of each burner: a shut-off problem, and the relay's connection.

"Shut-off problem" (device class problem) is on from a shut-off that was not
confirmed until the next confirmed cut of that burner, as its repair issue
(which it follows, so it is on again after a restart) and as the daemon's
MQTT discovery has it (gasstove.domain.remote). "Relay connection" is a
diagnostic: whether the relay answered its last read or action.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import GasStoveConfigEntry
from .entity import GasStoveEntity, per_burner

#: Reads only: the coordinator does the work.
PARALLEL_UPDATES = 0

PROBLEM = BinarySensorEntityDescription(
    key="shut_off_problem", translation_key="shut_off_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)
CONNECTION = BinarySensorEntityDescription(
    key="relay_connection", translation_key="relay_connection",
    device_class=BinarySensorDeviceClass.CONNECTIVITY, entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(per_burner(entry.runtime_data, (GasStoveProblemSensor, PROBLEM),
                                  (GasStoveConnectionSensor, CONNECTION)))


class GasStoveProblemSensor(GasStoveEntity, BinarySensorEntity):
    @property
    def is_on(self) -> bool:
        return self.burner in self.coordinator.problems

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        reason = self.coordinator.problems.get(self.burner)
        return {"reason": reason} if reason else {}


class GasStoveConnectionSensor(GasStoveEntity, BinarySensorEntity):
    @property
    def is_on(self) -> bool | None:
        data = (self.coordinator.data or {}).get(self.burner)
        return data.reachable if data is not None else None
