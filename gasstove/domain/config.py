"""Configuration models (pydantic). Pure: loading YAML lives in ``gasstove.adapters.config_file``.

Validators raise ``ValueError`` with short messages that name the rule, never
the offending secret: the loader prefixes file, line and key.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .daemon_config import DaemonConfig
from .defaults import CUT_BOUNDS, CUT_SECONDS, DEADLINE_BOUNDS, DEADLINE_S, STOVE_NAME
from .fields import check_host, seconds_field, share_fields_set
from .flame import FlameInput
from .guard_config import GuardConfig
from .mqtt_config import MqttBrokerConfig, MqttRelayConfig
from .plan import CutPlan, DevicePulse, Wiring, plan_cut

BURNER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Words that mean "every burner" to the CLI and voice; no burner may take them.
ALL_WORDS = frozenset({"all", "every", "全部", "所有"})


CutSeconds = Annotated[float, seconds_field(*CUT_BOUNDS)]
MaxBurn = Annotated[float, seconds_field(60, 24 * 3600)]
Deadline = Annotated[float, seconds_field(*DEADLINE_BOUNDS)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A secret left out because the command sends nothing (``stove parse``, ``history``,
#: ``check --offline``) and its environment variable is not set: validated as given only
#: with ``context={"unset_secrets": True}``, so it can never pass for a real one.
UNSET_SECRET = "<unset>"


def _token(value: SecretStr, info: ValidationInfo) -> SecretStr:
    if value.get_secret_value() == UNSET_SECRET and (info.context or {}).get("unset_secrets"):
        return value
    if not re.fullmatch(r"[0-9a-fA-F]{32}", value.get_secret_value()):
        raise ValueError("must be 32 hex characters")
    return value


class MiioCountdown(Model):
    """A MIoT property that switches the relay off by itself after N units.

    Declaring it lets an ON pulse (a cut with ``normally_closed`` wiring) end
    on the device even if we die mid-pulse, e.g. ``cuco.plug.cp2`` siid 2 piid 5
    in minutes.
    """

    siid: int = Field(ge=1, le=255)
    piid: int = Field(ge=1, le=255)
    unit_seconds: float = Field(default=60, ge=1, le=3600)


class MiioRelayConfig(Model):
    type: Literal["miio"]
    host: str = Field(min_length=1, max_length=253)
    token: SecretStr
    #: ``miot``: MIoT property write; ``legacy``: miIO ``set_power`` plug.
    protocol: Literal["miot", "legacy"] = "miot"
    siid: int = Field(default=2, ge=1, le=255)
    piid: int = Field(default=1, ge=1, le=255)
    countdown: MiioCountdown | None = None

    _check_token = field_validator("token")(_token)

    _check_host = field_validator("host")(check_host)

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=self.countdown is not None and self.protocol == "miot")

    def describe(self) -> str:
        where = f"siid {self.siid} piid {self.piid}" if self.protocol == "miot" else "set_power"
        return f"miio {self.host} ({where})"


class HassRelayConfig(Model):
    """A ``switch`` entity of Home Assistant (ZHA, Z-Wave, Matter, ESPHome...) as the relay.

    Only the Home Assistant integration can drive it: the CLI and the daemon
    refuse it (:class:`Config`). No firmware timer is reachable through a
    switch entity, so its pulses are timed by Home Assistant.
    """

    type: Literal["hass"]
    entity_id: str = Field(pattern=r"^switch\.[a-z0-9_]{1,200}$")

    def device_pulse(self) -> DevicePulse:
        return DevicePulse()

    def describe(self) -> str:
        return f"Home Assistant {self.entity_id}"


RelayConfig = Annotated[MiioRelayConfig | MqttRelayConfig | HassRelayConfig,
                        Field(discriminator="type")]


def _no_aliases() -> list[str]:
    return []


class BurnerConfig(Model):
    # A mutable default is deep-copied per burner (a quarter of validating 10,000 of
    # them); default_factory=list would cost every start-up ~10 ms of
    # inspect.signature(list) (it compiles tokenize's regex): a plain function.
    aliases: list[str] = Field(default_factory=_no_aliases)
    wiring: Wiring = Wiring.NORMALLY_CLOSED
    cut_seconds: CutSeconds = CUT_SECONDS
    relay: RelayConfig
    #: Optional MQTT topic saying whether the burner is lit (needs ``mqtt:``).
    flame: FlameInput | None = None
    #: With a flame input: shut the burner off when it has burned this long.
    max_burn: MaxBurn | None = None

    @model_validator(mode="after")
    def _max_burn_needs_flame(self) -> BurnerConfig:
        if self.max_burn is not None and self.flame is None:
            raise ValueError("max_burn needs a flame input to know when the burner was lit")
        share_fields_set(self)
        return self

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        for alias in value:
            if not alias.strip():
                raise ValueError("an alias may not be empty")
            if alias.strip().casefold() in ALL_WORDS:
                raise ValueError(f"{alias!r} means every burner and cannot be an alias")
        return [a.strip() for a in value]

    def plan(self) -> CutPlan:
        return self._cut_plan

    @cached_property
    def _cut_plan(self) -> CutPlan:
        # Asked for at every report of every relay (ten thousand at once): built once.
        return plan_cut(self.wiring, self.cut_seconds, self.relay.device_pulse())


def _burner_name(name: str) -> str:
    if not BURNER_NAME.fullmatch(name):
        raise ValueError(
            f"burner name {name!r} must be lower-case letters, digits or _ "
            "(put other spellings in aliases)"
        )
    if name in ALL_WORDS:
        raise ValueError(f"{name!r} means every burner and cannot name one")
    return name


BurnerName = Annotated[str, AfterValidator(_burner_name)]


class StoveConfig(Model):
    name: str = Field(default=STOVE_NAME, min_length=1, max_length=64)
    #: Overall time a shut-off may take to be confirmed before it is reported failed.
    deadline: Deadline = DEADLINE_S
    burners: dict[BurnerName, BurnerConfig]

    @field_validator("burners")
    @classmethod
    def _burners(cls, value: dict[str, BurnerConfig]) -> dict[str, BurnerConfig]:
        if not value:
            raise ValueError("at least one burner is needed")
        seen: dict[str, str] = {}
        for name, burner in value.items():
            for word in (name, *burner.aliases):
                key = word.casefold()
                if key in seen and seen[key] != name:
                    raise ValueError(f"{word!r} names both {seen[key]!r} and {name!r}")
                seen[key] = name
        return value

    def display_name(self, burner: str) -> str:
        """How a burner is shown to people: its first alias, as typed in any language
        ("左灶"), else its key made readable ("right_back": "Right back")."""
        aliases = self.burners[burner].aliases
        return aliases[0] if aliases else burner.replace("_", " ").capitalize()


class AlertsConfig(Model):
    #: A program run (no shell) for every failed shut-off, the alert as JSON on its stdin:
    #: for users without Home Assistant, e.g. ["/usr/local/bin/notify-phone", "--urgent"].
    on_failure: list[str] | None = Field(default=None, min_length=1)
    #: A program run the same way for every automatic cut (timer, maximum burn, nobody
    #: in the kitchen, a hazard alarm), the note as JSON on its stdin.
    on_cut: list[str] | None = Field(default=None, min_length=1)

    @field_validator("on_failure", "on_cut")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value[0].strip():
            raise ValueError("the first word must be the program to run")
        return value


class Config(Model):
    stove: StoveConfig
    alerts: AlertsConfig = AlertsConfig()
    #: The broker every ``type: mqtt`` relay talks through (one connection for all).
    mqtt: MqttBrokerConfig | None = Field(default=None, validate_default=True)
    daemon: DaemonConfig = DaemonConfig()
    #: The stove guard (README "Stove guard"): presence, hazard inputs, warnings.
    guard: GuardConfig = GuardConfig()

    @field_validator("daemon", "alerts", "guard", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return {} if value is None else value  # "daemon:" with every key commented out

    @field_validator("mqtt")
    @classmethod
    def _mqtt_needed(cls, value: MqttBrokerConfig | None, info: ValidationInfo) -> Any:
        stove = info.data.get("stove")
        if value is None and stove is not None:
            for name, burner in stove.burners.items():
                if burner.relay.type == "mqtt":
                    raise ValueError(f"missing: burner {name!r} has an MQTT relay, so an mqtt: "
                                     "section must name the broker (at least its host)")
                if burner.flame is not None:
                    raise ValueError(f"missing: burner {name!r} has a flame input, so an mqtt: "
                                     "section must name the broker (at least its host)")
        return value

    @field_validator("stove")
    @classmethod
    def _no_hass_relay(cls, value: StoveConfig) -> StoveConfig:
        for name, burner in value.burners.items():
            if burner.relay.type == "hass":
                raise ValueError(f"burner {name!r}: relay type 'hass' works only inside Home "
                                 "Assistant (use a miio or mqtt relay here)")
        return value

    @model_validator(mode="after")
    def _guard_needs_mqtt(self) -> Config:
        if self.mqtt is None and self.guard.inputs():
            raise ValueError("missing: the guard has MQTT inputs (presence, hazards), so an "
                             "mqtt: section must name the broker (at least its host)")
        return self

    @model_validator(mode="after")
    def _relays_distinct(self) -> Config:
        owners: dict[str, str] = {}
        for name, burner in self.stove.burners.items():
            key = burner.relay.describe()
            if key in owners:
                raise ValueError(f"burners {owners[key]!r} and {name!r} use the same relay {key}")
            owners[key] = name
        return self
