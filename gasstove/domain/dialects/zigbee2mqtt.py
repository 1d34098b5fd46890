"""Zigbee2MQTT: ``<base>/<name>/set`` with ``state`` and ``on_time``, state on ``<base>/<name>``.

Conventions checked against the Zigbee2MQTT documentation:
https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html (``/set``,
``/get``, state on the device topic), a switch's "On with timed off" exposes
section, e.g. https://www.zigbee2mqtt.io/devices/SWITCH-ZR02.html (``on_time``
in seconds, only when turning ON), and
https://www.zigbee2mqtt.io/guide/configuration/device-availability.html
(``<base>/<name>/availability``, retained; ``{"state":"online"}``, or plain
``online`` with the legacy payload).

The bridge has its own LWT, ``<base>/bridge/state``, retained: ``{"state":
"offline"}`` as the will of its MQTT connection, ``{"state":"online"}`` on
connect (Koenkk/zigbee2mqtt lib/mqtt.ts, ``will`` and ``onConnect``); before
2.0, with ``advanced.legacy_availability_payload`` (the 1.x default), plain
``offline``/``online`` (lib/util/settingsMigration.ts notes its removal). When
the bridge dies its devices' availability topics keep saying "online", so a
bridge offline fails a command at once, as a device offline does.

Z2M publishes the state it *asked* for as soon as the Zigbee command is
acknowledged (docs/design.md §5), so ``optimistic_echo`` makes the transport confirm
with a ``/get`` answer instead. ``off_wait_time`` is never sent: during it the
device ignores further timed ONs, and that could swallow the next cut.

After a power cut (issue 16): switches whose converter exposes it report
``power_on_behavior`` (``off``/``on``/``toggle``/``previous``; the ZCL
StartUpOnOff attribute, or the maker's own) in the device's state message, and
a ``/get`` of it reads it from the device; ``power_on_behavior_<endpoint>`` on
a multi-endpoint device, as with ``state_<endpoint>``
(https://www.zigbee2mqtt.io/devices/, e.g. the TS011F plug page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..plan import DevicePulse
from ..power_on import PowerOn
from .base import Dialect, Message, ParseError, Report, json_payload, tenths, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig


@dataclass(frozen=True)
class Zigbee2Mqtt(Dialect):
    name: ClassVar[str] = "zigbee2mqtt"
    title: ClassVar[str] = "Zigbee2MQTT"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "base_topic", "endpoint", "device_timer"})
    optimistic_echo: ClassVar[bool] = True
    friendly_name: str
    base_topic: str = "zigbee2mqtt"
    endpoint: str | None = None
    timer: bool = True

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> Zigbee2Mqtt:
        assert config.topic is not None  # the config model requires it
        return cls(config.topic, config.base_topic, config.endpoint, config.device_timer)

    @property
    def device_topic(self) -> str:
        return f"{self.base_topic}/{self.friendly_name}"

    @property
    def availability_topic(self) -> str:
        return f"{self.device_topic}/availability"

    @property
    def bridge_topic(self) -> str:
        return f"{self.base_topic}/bridge/state"

    @property
    def key(self) -> str:
        return "state" if self.endpoint is None else f"state_{self.endpoint}"

    @property
    def power_on_key(self) -> str:
        return "power_on_behavior" + ("" if self.endpoint is None else f"_{self.endpoint}")

    def describe(self) -> str:
        return f"zigbee2mqtt {self.device_topic} {self.key}"

    def bridge(self) -> str:
        return self.bridge_topic

    def subscriptions(self) -> tuple[str, ...]:
        return (self.device_topic, self.availability_topic, self.bridge_topic)

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=self.timer)  # on_time only applies to turning ON

    def _send(self, suffix: str, body: dict[str, object]) -> list[Message]:
        return [Message(f"{self.device_topic}/{suffix}", json.dumps(body))]

    def _set(self, energised: bool) -> list[Message]:
        return self._send("set", {self.key: "ON" if energised else "OFF"})

    def _pulse(self, energised: bool, seconds: float) -> list[Message]:
        return self._send("set", {self.key: "ON", "on_time": tenths(seconds) / 10})

    def poll(self) -> list[Message]:
        return self._send("get", {self.key: ""})

    def power_on_query(self) -> list[Message]:
        return self._send("get", {self.power_on_key: ""})

    def power_on_fix(self, wanted: PowerOn) -> str:
        body = json.dumps({self.power_on_key: _Z2M_POWER_ON[wanted]})
        return f"publish {body} to {self.device_topic}/set"

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.availability_topic:
            return Report(online=_availability(payload, "availability"))
        if topic == self.bridge_topic:
            if not text(payload):
                return None  # a retained state cleared: says nothing
            return Report(bridge_online=_availability(payload, "bridge/state"))
        if topic == self.device_topic:
            data = json_payload(payload)
            if not isinstance(data, dict):
                raise ParseError("device state is not a JSON object")
            power_on = _power_on(data.get(self.power_on_key))
            if self.key not in data:
                # linkquality, power... without the switch state
                return None if power_on is None else Report(power_on=power_on)
            return Report(energised=word(data[self.key], "ON", "OFF", self.key),
                          power_on=power_on)
        raise ParseError(f"not a topic of {self.describe()}")


def _availability(payload: bytes, what: str) -> bool:
    """``{"state":"online"}`` or, with the legacy payload, plain ``online``."""
    value = json_payload(payload) if text(payload).startswith("{") else text(payload)
    if isinstance(value, dict):
        value = value.get("state")
    return word(value, "online", "offline", what)


_Z2M_POWER_ON = {PowerOn.OFF: "off", PowerOn.ON: "on", PowerOn.TOGGLE: "toggle",
                 PowerOn.LAST: "previous"}


def _power_on(value: object) -> PowerOn | None:
    """None for a value of another maker's converter: it must not cost the state report
    it came with (`stove check` then says it could not read it)."""
    for setting, name in _Z2M_POWER_ON.items():
        if isinstance(value, str) and value.strip().casefold() == name:
            return setting
    return None
