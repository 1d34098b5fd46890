"""Build the relay adapter each burner's configuration asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.config import Config
from ..domain.plan import Wiring
from ..domain.relay import Relay

if TYPE_CHECKING:
    from .mqtt import MqttBroker


def build_relays(config: Config, broker: MqttBroker | None = None) -> dict[str, Relay]:
    """One adapter per burner; MQTT relays share one broker connection, closed with the last.

    Pass ``broker`` to share it with something else (the daemon's remote control).
    """
    relays: dict[str, Relay] = {}
    for name, burner in config.stove.burners.items():
        if burner.relay.type == "miio":
            from .miio_relay import MiioRelay

            relays[name] = MiioRelay(burner.relay, plan=burner.plan())
        elif burner.relay.type == "mqtt":
            from .mqtt import MqttBroker
            from .mqtt_relay import MqttRelay

            assert config.mqtt is not None  # the config model requires it with an MQTT relay
            broker = broker or MqttBroker(config.mqtt)
            relays[name] = MqttRelay(burner.relay, broker,
                                     off_pulses=burner.wiring is Wiring.NORMALLY_OPEN)
    return relays
