"""Configuration of MQTT relays and of the broker they talk through (pydantic).

One flat ``type: mqtt`` model with a ``dialect`` key: a user copies a block
from the docs and changes a topic. Keys that the chosen dialect does not read
are refused by name rather than silently ignored.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .fields import check_host, share_fields_set
from .plan import DevicePulse

if TYPE_CHECKING:
    from .dialects import Dialect

_NAME = re.compile(r"[A-Za-z0-9_\-]{1,23}")


def _topic(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > 200:
        raise ValueError("must be an MQTT topic of 1 to 200 characters")
    if any(c in value for c in "+#\x00"):
        raise ValueError("must be one exact topic (no + or # wildcards)")
    return value


class MqttBrokerConfig(BaseModel):
    """The top-level ``mqtt:`` section: one broker, one connection for every MQTT relay."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # as config.Model

    host: str = Field(min_length=1, max_length=253)
    #: Default 1883, or 8883 with TLS.
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password: SecretStr | None = None
    tls: bool = False
    #: CA bundle to trust instead of the system's; implies ``tls``.
    ca_file: str | None = Field(default=None, min_length=1)
    #: Our client certificate and its key (PEM), for a broker that asks for one
    #: (mosquitto ``require_certificate true``); each implies ``tls``.
    certfile: str | None = Field(default=None, min_length=1)
    keyfile: str | None = Field(default=None, min_length=1)
    #: Accept a broker certificate whose name does not match ``host`` (the CA is
    #: still checked). Anyone on the path holding any certificate of that CA can
    #: then pose as the broker: logged as a warning on every connection.
    tls_insecure: bool = False
    #: Our client ids are ``<prefix>-<random>``: two gasstove processes never collide.
    client_id_prefix: str = "gasstove"
    keepalive: int = Field(default=30, ge=5, le=3600)

    _check_host = field_validator("host")(check_host)

    @field_validator("client_id_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("must be 1 to 23 letters, digits, _ or -")
        return value

    @field_validator("ca_file", "certfile", "keyfile")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        # Checked here so that a typo is a configuration error naming the key
        # (exit 2), not a failed shut-off at the first connection.
        if value is not None and not os.access(os.path.expanduser(value), os.R_OK):
            raise ValueError(f"no readable file {value}")
        return None if value is None else os.path.expanduser(value)

    @model_validator(mode="after")
    def _credentials(self) -> MqttBrokerConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password: needs a username too")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("keyfile: certfile and keyfile go together")
        if self.tls_insecure and not self.use_tls:
            raise ValueError("tls_insecure: only means something with tls")
        return self

    @property
    def use_tls(self) -> bool:
        return self.tls or self.ca_file is not None or self.certfile is not None

    @property
    def effective_port(self) -> int:
        return self.port or (8883 if self.use_tls else 1883)

    def describe(self) -> str:
        return f"{self.host}:{self.effective_port}"


class MqttRelayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # as config.Model

    type: Literal["mqtt"]
    #: A name in :data:`gasstove.domain.dialects.REGISTRY`; the dialect class says
    #: which of the keys below it reads and needs.
    dialect: str
    #: Tasmota %topic%, Shelly device id, Shelly Gen2 topic prefix,
    #: Zigbee2MQTT friendly name, ESPHome topic prefix (node name).
    topic: str | None = None
    #: Tasmota relay number (POWER<n>; omit for a one-relay device's POWER),
    #: Shelly relay index, Shelly Gen2 switch id (both from 0).
    channel: int | None = Field(default=None, ge=0, le=32)
    #: Let the firmware time the pulse per command where it can (Tasmota
    #: PulseTime/Backlog, Shelly Gen2 toggle_after, Zigbee2MQTT on_time).
    device_timer: bool = True
    #: Shelly Gen1, ESPHome, generic: the device itself is set up to release
    #: (auto_off) or re-energise (auto_on) after cut_seconds.
    auto_off: bool = False
    auto_on: bool = False
    base_topic: str = "zigbee2mqtt"
    #: Zigbee2MQTT endpoint of a multi-gang switch (``state_<endpoint>``).
    endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,16}$")
    #: ESPHome switch object id.
    switch: str = Field(default="relay", pattern=r"^[a-z0-9_]{1,64}$")
    command_topic: str | None = None
    state_topic: str | None = None
    availability_topic: str | None = None
    get_topic: str | None = None
    get_payload: str = ""
    payload_on: str = Field(default="ON", min_length=1, max_length=64)
    payload_off: str = Field(default="OFF", min_length=1, max_length=64)
    #: What the state topic says; default: the command payloads.
    state_on: str | None = Field(default=None, min_length=1, max_length=64)
    state_off: str | None = Field(default=None, min_length=1, max_length=64)
    #: Dotted path of the state in a JSON state message, e.g. ``switch.output``.
    state_json_path: str | None = Field(default=None, pattern=r"^[^.\s]+(\.[^.\s]+)*$")
    payload_available: str = Field(default="online", min_length=1, max_length=64)
    payload_not_available: str = Field(default="offline", min_length=1, max_length=64)

    _topics = field_validator(
        "topic", "base_topic", "command_topic", "state_topic", "availability_topic", "get_topic"
    )(_topic)

    @field_validator("dialect", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        from .dialects import REGISTRY, listed  # the dialects read this model: import late

        if not (isinstance(value, str) and value in REGISTRY):
            # The error a Literal of the names gives.
            raise PydanticCustomError("literal_error", "Input should be {expected}", {
                "expected": listed([repr(name) for name in REGISTRY])})
        return value

    @model_validator(mode="after")
    def _dialect_keys(self) -> MqttRelayConfig:
        from .dialects import REGISTRY

        dialect = REGISTRY[self.dialect]
        for key in sorted(self.model_fields_set - {"type", "dialect"} - dialect.keys):
            raise ValueError(f"{key}: not used by dialect {self.dialect} (it reads: "
                             f"{', '.join(sorted(dialect.keys))})")
        for key in dialect.required:
            if getattr(self, key) is None:
                raise ValueError(f"{key}: missing (dialect {self.dialect} needs it)")
        dialect.check(self)
        share_fields_set(self)
        return self

    def dialect_impl(self) -> Dialect:
        """The pure dialect (topics, payloads, parsing) for this relay."""
        from .dialects import dialect_for  # the dialects read this model: import late

        return dialect_for(self)

    def device_pulse(self) -> DevicePulse:
        return self.dialect_impl().device_pulse()

    def describe(self) -> str:
        return f"mqtt {self.dialect_impl().describe()}"
