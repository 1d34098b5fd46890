"""Sensors of each burner: its state, its last shut-off and its pending timer.

The burner's state says what gasstove knows, never "gas on": the loop is
closed and the burner can be lit by hand ("ready"), a cut is under way, the
burner is locked, a relay was left cutting, or the relay does not answer;
"burning" only where a flame input says so (flame.py).
It is a sensor on purpose: a gas valve or switch entity reads "open"/"on" to
voice assistants, HomeKit and the dashboard's toggles (docs/home-assistant.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .coordinator import GasStoveConfigEntry, GasStoveCoordinator, LastShutOff
from .entity import GasStoveEntity, per_burner

#: Reads only: the coordinator does the work.
PARALLEL_UPDATES = 0

BURNER_STATES = ["ready", "burning", "shutting_off", "locked", "left_cutting", "unreachable"]
LAST_RESULTS = ["shutting_off", "confirmed", "not_restored", "failed"]

BURNER = SensorEntityDescription(
    key="burner", translation_key="burner", device_class=SensorDeviceClass.ENUM,
    options=BURNER_STATES,
)
LAST_SHUT_OFF = SensorEntityDescription(
    key="last_shut_off", translation_key="last_shut_off", device_class=SensorDeviceClass.ENUM,
    options=LAST_RESULTS,
)
SCHEDULED = SensorEntityDescription(
    key="scheduled_shut_off", translation_key="scheduled_shut_off",
    device_class=SensorDeviceClass.TIMESTAMP,
)
#: The stove guard's warning: when the announced automatic cut comes (guard.py).
WARNING = SensorEntityDescription(
    key="shut_off_warning", translation_key="shut_off_warning",
    device_class=SensorDeviceClass.TIMESTAMP,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(per_burner(
        entry.runtime_data, (GasStoveBurnerSensor, BURNER),
        (GasStoveLastShutOffSensor, LAST_SHUT_OFF), (GasStoveTimerSensor, SCHEDULED),
        (GasStoveWarningSensor, WARNING)))


def burner_state(coordinator: GasStoveCoordinator, burner: str) -> str | None:
    """One of BURNER_STATES, or None (not read yet)."""
    if burner in coordinator.acting:
        return "shutting_off"
    data = (coordinator.data or {}).get(burner)
    if data is None:
        return None
    if data.state == "cutting":
        return "locked" if data.locked else "left_cutting"
    if data.state == "resting":
        return "burning" if coordinator.flames.lit.get(burner) else "ready"
    return "unreachable"


class GasStoveBurnerSensor(GasStoveEntity, SensorEntity):
    @property
    def native_value(self) -> str | None:
        return burner_state(self.coordinator, self.burner)


class GasStoveLastShutOffSensor(GasStoveEntity, SensorEntity, RestoreEntity):
    """Changes the moment a cut begins ("shutting off") and again when it ends:
    confirmed (in how many ms), the cut confirmed but the relay left cutting, or
    failed (and why). Who asked is in its attributes; it outlives a restart."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if (self.burner in self.coordinator.last or last is None
                or last.state not in LAST_RESULTS or last.state == "shutting_off"):
            return  # a cut a restart interrupted is not under way any more
        at = dt_util.parse_datetime(str(last.attributes.get("at")))
        if at is None:
            return
        self.coordinator.last[self.burner] = LastShutOff(
            last.state, dt_util.as_utc(at), str(last.attributes.get("source", "")),
            last.attributes.get("user"), last.attributes.get("confirmed_in_ms"),
            last.attributes.get("reason"))

    @property
    def native_value(self) -> str | None:
        last = self.coordinator.last.get(self.burner)
        return last.result if last else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        last = self.coordinator.last.get(self.burner)
        if last is None:
            return {}
        attributes: dict[str, Any] = {"at": last.at.isoformat(), "source": last.source}
        if last.user is not None:
            attributes["user"] = last.user
        if last.cut_ms is not None:
            attributes["confirmed_in_ms"] = last.cut_ms
        if last.result in ("failed", "not_restored") and last.message:
            attributes["reason"] = last.message
        return attributes


class GasStoveTimerSensor(GasStoveEntity, SensorEntity):
    @property
    def native_value(self) -> datetime | None:
        timer = self.coordinator.timers.get(self.burner)
        return timer.due if timer else None


class GasStoveWarningSensor(GasStoveEntity, SensorEntity):
    """When the burner's announced automatic cut comes (unknown: none announced); why
    and what a speaker should say are its attributes, in Home Assistant's language."""

    @property
    def native_value(self) -> datetime | None:
        shown = self.coordinator.guard.shown.get(self.burner)
        return shown.cut_at if shown else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        shown = self.coordinator.guard.shown.get(self.burner)
        if shown is None:
            return {}
        return {"reason": shown.pending.reason, "message": shown.message}
