"""Sensor: when the burner's shut-off timer will fire (timestamp, timezone-aware)."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .coordinator import GasStoveCoordinator
from .entity import GasStoveEntity

SCHEDULED = SensorEntityDescription(
    key="scheduled_shut_off", translation_key="scheduled_shut_off",
    device_class=SensorDeviceClass.TIMESTAMP,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator: GasStoveCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities(GasStoveTimerSensor(coordinator, b, SCHEDULED) for b in coordinator.config.burners)


class GasStoveTimerSensor(GasStoveEntity, SensorEntity):
    @property
    def native_value(self) -> datetime | None:
        timer = self.coordinator.timers.get(self.burner)
        return timer.due if timer else None
