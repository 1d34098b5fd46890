"""The stove guard's configuration (pydantic): presence and hazard inputs, the
inactivity limit, warnings. What the guard does with it is :mod:`gasstove.domain.guard`,
which only the daemon runs: a configuration is read by every command and needs only this.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from .fields import seconds_field
from .flame import MqttInput

Topic = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^#+\x00]+$")]
HazardKind = Literal["smoke", "co", "gas", "heat"]


class PresenceInput(MqttInput):
    """Someone is in the kitchen: a motion or occupancy sensor that reports both ways
    (e.g. Zigbee2MQTT ``{"occupancy": true}`` with ``json_path: occupancy``)."""

    present: str = Field(default="ON", min_length=1, max_length=64)
    away: str = Field(default="OFF", min_length=1, max_length=64)

    def words(self) -> tuple[str, str]:
        return self.present, self.away


class HazardInput(MqttInput):
    """A smoke, CO, gas-leak or heat alarm: active cuts and locks every burner."""

    kind: HazardKind
    alarm: str = Field(default="ON", min_length=1, max_length=64)
    clear: str = Field(default="OFF", min_length=1, max_length=64)
    #: The sensor's availability topics (its LWT; behind Zigbee2MQTT also the bridge's
    #: ``zigbee2mqtt/bridge/state``, as a device's own stays "online" when the bridge
    #: dies): any offline is warned of, never cut on.
    availability: list[Topic] = Field(default=[], max_length=4)
    online: str = Field(default="online", min_length=1, max_length=64)
    offline: str = Field(default="offline", min_length=1, max_length=64)

    @field_validator("availability", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def words(self) -> tuple[str, str]:
        return self.alarm, self.clear

    def label(self) -> str:
        return f"{HAZARD_WORDS[self.kind]} alarm ({self.topic})"

    def parse_availability(self, payload: bytes) -> bool | None:
        """Online or not: the plain word, or Zigbee2MQTT's ``{"state": "online"}``."""
        from .dialects.base import json_payload, lookup, text, word

        said: Any = text(payload)
        if said.startswith("{"):
            said = lookup(json_payload(payload), ("state",))
            if said is None:
                return None
        return word(said, self.online, self.offline, f"availability of {self.topic}")


HAZARD_WORDS: dict[str, str] = {"smoke": "smoke", "co": "carbon monoxide", "gas": "gas leak",
                                "heat": "heat"}


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Someone is in the kitchen; with it, a lit burner is shut off after ``away_after``
    #: with nobody there.
    presence: PresenceInput | None = None
    away_after: Annotated[float, seconds_field(60, 24 * 3600)] = 600.0
    #: Every automatic cut is announced this long ahead; 0 turns warnings off.
    warn_before: Annotated[float, seconds_field(0, 600)] = 60.0
    hazards: list[HazardInput] = Field(default=[], max_length=32)

    @model_validator(mode="after")
    def _warn_within_away(self) -> GuardConfig:
        if self.presence is not None and self.warn_before >= self.away_after:
            raise ValueError("warn_before must be shorter than away_after")
        return self

    def inputs(self) -> list[MqttInput]:
        return [*([self.presence] if self.presence else []), *self.hazards]
