"""MQTT relay dialects, one small pure module per firmware (docs/design.md §3, §4 "Relays").

Each says which topics to subscribe, what to publish to set the relay
(idempotent sets, never toggles), how the device can time a pulse itself, how
to ask for a fresh state report, and how to read state and availability
messages. No I/O and no paho here: ``gasstove.adapters.mqtt`` moves the bytes.

A new dialect is its module here (a :class:`Dialect` with its ``name``, ``title``,
``keys``, ``required`` and ``from_config``), its entry in ``REGISTRY``, and its
firmware in ``gasstove.sim.mqtt_relays`` (``SIMS``). The config model, ``stove sim
mqtt``, Home Assistant's form and the MQTT end-to-end tests follow from them; a key
no dialect read before is also a field of ``MqttRelayConfig``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    MAX_PAYLOAD,
    CannotHold,
    DeclaredTimer,
    Dialect,
    Message,
    ParseError,
    Report,
)
from .esphome import EspHome
from .generic import Generic
from .shelly import Shelly
from .shelly_rpc import ShellyRpc
from .tasmota import Tasmota
from .zigbee2mqtt import Zigbee2Mqtt

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig

#: Every dialect by its name, in the order help texts and forms list them. A new
#: dialect is its module and one entry here; everything else is derived from it.
REGISTRY: dict[str, type[Dialect]] = {
    cls.name: cls for cls in (Tasmota, Shelly, ShellyRpc, Zigbee2Mqtt, EspHome, Generic)
}


def dialect_for(config: MqttRelayConfig) -> Dialect:
    return REGISTRY[config.dialect].from_config(config)


def reading(key: str) -> list[str]:
    """The dialects whose relay block may set ``key``."""
    return [name for name, cls in REGISTRY.items() if key in cls.keys]


def topic_dialects() -> dict[str, str]:
    """Name -> title of the dialects whose relay is addressed by its ``topic`` alone (what
    a short form, Home Assistant's, can offer)."""
    return {name: cls.title for name, cls in REGISTRY.items() if cls.required == ("topic",)}


def listed(words: list[str]) -> str:
    """``"a, b or c"``."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))


__all__ = [
    "MAX_PAYLOAD", "REGISTRY", "CannotHold", "DeclaredTimer", "Dialect", "EspHome", "Generic",
    "Message", "ParseError", "Report", "Shelly", "ShellyRpc", "Tasmota", "Zigbee2Mqtt",
    "dialect_for", "listed", "reading", "topic_dialects",
]
