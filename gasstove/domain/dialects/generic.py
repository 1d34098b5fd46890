"""Any other MQTT relay: every topic and payload from the configuration.

Modelled on Home Assistant's MQTT switch options, which most firmwares
already document themselves against: https://www.home-assistant.io/integrations/switch.mqtt/
(command/state/availability topics and payloads). ``state_json_path`` picks
the state out of a JSON message (``switch.output`` for ``{"switch":
{"output": "ON"}}``); JSON booleans are read as on/off too.

Whether the firmware reports a state it already has is unknown, so without a
``get_topic`` (a state request) a command to the current state is taken as one
that cannot be confirmed afresh (``reports_unchanged``), as with ESPHome.

A generic relay has no known per-command timer; ``auto_off``/``auto_on``
declare one set up on the device (see :class:`~.base.DeclaredTimer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..power_on import PowerOn
from .base import DeclaredTimer, Message, ParseError, Report, json_payload, lookup, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig


@dataclass(frozen=True)
class Generic(DeclaredTimer):
    name: ClassVar[str] = "generic"
    title: ClassVar[str] = "Generic MQTT switch"
    keys: ClassVar[frozenset[str]] = frozenset({
        "command_topic", "state_topic", "availability_topic", "get_topic", "get_payload",
        "payload_on", "payload_off", "state_on", "state_off", "state_json_path",
        "payload_available", "payload_not_available", "auto_off", "auto_on",
    })
    required: ClassVar[tuple[str, ...]] = ("command_topic", "state_topic")
    reports_unchanged: ClassVar[bool] = False
    command_topic: str
    state_topic: str
    payload_on: str = "ON"
    payload_off: str = "OFF"
    state_on: str = "ON"
    state_off: str = "OFF"
    state_json_path: tuple[str, ...] = ()
    availability_topic: str | None = None
    payload_available: str = "online"
    payload_not_available: str = "offline"
    get_topic: str | None = None
    get_payload: str = ""
    auto_off: bool = False
    auto_on: bool = False

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> Generic:
        assert config.command_topic is not None and config.state_topic is not None
        path = config.state_json_path
        return cls(
            config.command_topic, config.state_topic, config.payload_on, config.payload_off,
            config.state_on or config.payload_on, config.state_off or config.payload_off,
            tuple(path.split(".")) if path else (), config.availability_topic,
            config.payload_available, config.payload_not_available,
            config.get_topic, config.get_payload, config.auto_off, config.auto_on,
        )

    @classmethod
    def check(cls, config: MqttRelayConfig) -> None:
        if config.state_topic == config.command_topic:
            # We would read our own command back as the device's state.
            raise ValueError("state_topic: must differ from command_topic")
        if config.state_on is not None and config.state_on == config.state_off:
            raise ValueError("state_off: must differ from state_on")
        if config.payload_on == config.payload_off:
            raise ValueError("payload_off: must differ from payload_on")

    @classmethod
    def example(cls, topic: str) -> dict[str, Any]:
        return {"type": "mqtt", "dialect": cls.name, "command_topic": f"{topic}/set",
                "state_topic": f"{topic}/state", "availability_topic": f"{topic}/availability",
                "get_topic": f"{topic}/get"}

    def describe(self) -> str:
        return f"generic {self.command_topic}"

    def subscriptions(self) -> tuple[str, ...]:
        return (self.state_topic,) + ((self.availability_topic,) if self.availability_topic else ())

    def _set(self, energised: bool) -> list[Message]:
        return [Message(self.command_topic, self.payload_on if energised else self.payload_off)]

    def poll(self) -> list[Message]:
        return [Message(self.get_topic, self.get_payload)] if self.get_topic else []

    def power_on_fix(self, wanted: PowerOn) -> str:
        state = "off" if wanted is PowerOn.OFF else "on"
        return (f"cannot be read: set the firmware's power-on state to {state} (never "
                "\"last\" or \"toggle\")")

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.availability_topic:
            return Report(online=word(text(payload), self.payload_available,
                                      self.payload_not_available, "availability"))
        if topic != self.state_topic:
            raise ParseError(f"not a topic of {self.describe()}")
        if not self.state_json_path:
            return Report(energised=word(text(payload), self.state_on, self.state_off, "state"))
        value = lookup(json_payload(payload), self.state_json_path)
        if value is None:
            return None
        if isinstance(value, bool):
            return Report(energised=value)
        return Report(energised=word(value, self.state_on, self.state_off, ".".join(
            self.state_json_path)))
