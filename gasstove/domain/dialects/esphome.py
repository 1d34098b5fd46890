"""ESPHome MQTT client: ``<prefix>/switch/<id>/command`` and ``/state``, ``<prefix>/status``.

Conventions checked against the ESPHome documentation:
https://esphome.io/components/mqtt.html (topic_prefix defaults to the node
name; the birth/will messages are ``online``/``offline`` on
``<prefix>/status``, retained; a switch's default topics are
``<prefix>/switch/<object_id>/command`` and ``/state``, state retained).

ESPHome has no per-command timer and no "report your state" request (its
retained state topic serves a fresh subscriber). It publishes a switch state
only when it changes: ``Switch::publish_state`` returns early when
``publish_dedup_.next(state)`` says the state is unchanged
(esphome/components/switch/switch.cpp; the MQTT switch publishes from that
state callback, mqtt_switch.cpp), and it republishes every state only on its
own (re)connection (mqtt_client.cpp ``schedule_resend_state``). Home
Assistant's birth message on ``<discovery_prefix>/status`` triggers nothing in
ESPHome's MQTT client (checked in the 2024.10 sources), and publishing it
would make every other device on the broker resend its discovery. So a command
to the state the relay already has cannot be confirmed afresh
(``reports_unchanged``): the relay says so instead. A device-side pulse exists
only if the user flashed one, e.g. ``on_turn_on: [delay: 3s, switch.turn_off:
relay]``; the configuration declares it with ``auto_off``/``auto_on`` (see
:class:`~.base.DeclaredTimer`), otherwise we time the pulse ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..power_on import PowerOn
from .base import DeclaredTimer, Message, ParseError, Report, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig


@dataclass(frozen=True)
class EspHome(DeclaredTimer):
    name: ClassVar[str] = "esphome"
    title: ClassVar[str] = "ESPHome"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "switch", "auto_off", "auto_on"})
    reports_unchanged: ClassVar[bool] = False
    prefix: str
    switch_id: str = "relay"
    auto_off: bool = False
    auto_on: bool = False

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> EspHome:
        assert config.topic is not None  # the config model requires it
        return cls(config.topic, config.switch, config.auto_off, config.auto_on)

    @property
    def switch_topic(self) -> str:
        return f"{self.prefix}/switch/{self.switch_id}"

    @property
    def state_topic(self) -> str:
        return f"{self.switch_topic}/state"

    @property
    def command_topic(self) -> str:
        return f"{self.switch_topic}/command"

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status"

    def describe(self) -> str:
        return f"esphome {self.switch_topic}"

    def subscriptions(self) -> tuple[str, ...]:
        return (self.state_topic, self.status_topic)

    def _set(self, energised: bool) -> list[Message]:
        return [Message(self.command_topic, "ON" if energised else "OFF")]

    def power_on_fix(self, wanted: PowerOn) -> str:
        # restore_mode is compiled into the firmware and not published over MQTT
        # (https://esphome.io/components/switch/, "restore_mode").
        mode = "ALWAYS_OFF" if wanted is PowerOn.OFF else "ALWAYS_ON"
        return (f"cannot be read over MQTT (compiled into the firmware): "
                f"set `restore_mode: {mode}` on switch "
                f"{self.switch_id!r} in the device's YAML and flash it")

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.status_topic:
            return Report(online=word(text(payload), "online", "offline", "status"))
        if topic == self.state_topic:
            return Report(energised=word(text(payload), "ON", "OFF", "switch state"))
        raise ParseError(f"not a topic of {self.describe()}")
