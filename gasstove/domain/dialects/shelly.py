"""Shelly Gen1: ``shellies/<id>/relay/<n>/command`` on/off, state on ``shellies/<id>/relay/<n>``.

Conventions checked against the Gen1 API documentation, MQTT section:
https://shelly-api-docs.shelly.cloud/gen1/#shelly1-shelly1pm-mqtt
(``shellies/<id>/online`` true/false is the retained LWT; ``update`` on
``shellies/<id>/command`` makes the device publish its state again).

Device-side pulses: Gen1 times a relay only with the per-relay ``auto_off`` /
``auto_on`` settings, made over HTTP (``/settings/relay/<n>``), not per MQTT
command. So the relay declares a device-side pulse only when the
configuration says the setting is made on the device (see
:class:`~.base.DeclaredTimer`); otherwise we time the pulse ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..power_on import PowerOn
from .base import DeclaredTimer, Message, ParseError, Report, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig


@dataclass(frozen=True)
class Shelly(DeclaredTimer):
    name: ClassVar[str] = "shelly"
    title: ClassVar[str] = "Shelly Gen1"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "channel", "auto_off", "auto_on"})
    device_id: str
    channel: int = 0
    auto_off: bool = False
    auto_on: bool = False

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> Shelly:
        assert config.topic is not None  # the config model requires it
        return cls(config.topic, config.channel or 0, config.auto_off, config.auto_on)

    @property
    def relay_topic(self) -> str:
        return f"shellies/{self.device_id}/relay/{self.channel}"

    @property
    def online_topic(self) -> str:
        return f"shellies/{self.device_id}/online"

    @property
    def device_command_topic(self) -> str:
        return f"shellies/{self.device_id}/command"

    def describe(self) -> str:
        return f"shelly {self.relay_topic}"

    def subscriptions(self) -> tuple[str, ...]:
        return (self.relay_topic, self.online_topic)

    def _set(self, energised: bool) -> list[Message]:
        return [Message(f"{self.relay_topic}/command", "on" if energised else "off")]

    def poll(self) -> list[Message]:
        return [Message(self.device_command_topic, "update")]

    def power_on_fix(self, wanted: PowerOn) -> str:
        # Gen1 keeps default_state in its HTTP settings only (/settings/relay/<n>,
        # "default_state": off, on, last, switch; https://shelly-api-docs.shelly.cloud/gen1/
        # #settings-relay-index), and the relay's address is not in our configuration.
        state = "off" if wanted is PowerOn.OFF else "on"
        return (f"cannot be read over MQTT (Gen1 keeps it in its HTTP settings): "
                f"set the relay's \"Power on default mode\" to "
                f"{state.upper()} (http://<device>/settings/relay/{self.channel}"
                f"?default_state={state})")

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.online_topic:
            return Report(online=word(text(payload), "true", "false", "online"))
        if topic == self.relay_topic:
            value = text(payload)
            if value.casefold() == "overpower":
                return Report(energised=False)  # tripped: the firmware released the relay
            return Report(energised=word(value, "on", "off", "relay state"))
        raise ParseError(f"not a topic of {self.describe()}")
