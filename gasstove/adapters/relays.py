"""Build the relay adapter each burner's configuration asks for: the one place that picks
an adapter by relay type, for the CLI, the daemon and the Home Assistant integration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..domain.config import BurnerConfig, Config, StoveConfig
from ..domain.errors import ConfigError
from ..domain.plan import Wiring
from ..domain.relay import Relay

if TYPE_CHECKING:
    from .mqtt_relay import MqttLink

#: Builds a burner's relay of a type only a front end can drive (Home Assistant's
#: switch entities: ``{"hass": ...}``).
OtherRelays = Mapping[str, Callable[[BurnerConfig], Relay]]


def build_relays(config: Config | StoveConfig, link: Callable[[], MqttLink] | None = None, *,
                 others: OtherRelays | None = None) -> dict[str, Relay]:
    """One adapter per burner; MQTT relays share one link, made by ``link`` when the first
    MQTT burner needs it (by default a broker connection from ``config.mqtt``, closed with
    the last of them). Pass ``link`` to share a connection with something else (the
    daemon's remote control, Home Assistant's MQTT)."""
    stove = config.stove if isinstance(config, Config) else config
    relays: dict[str, Relay] = {}
    mqtt: MqttLink | None = None
    for name, burner in stove.burners.items():
        kind = burner.relay.type
        if others and kind in others:
            relays[name] = others[kind](burner)
        elif burner.relay.type == "miio":
            from .miio_relay import MiioRelay

            relays[name] = MiioRelay(burner.relay, plan=burner.plan())
        elif burner.relay.type == "mqtt":
            from .mqtt_relay import MqttRelay

            mqtt = mqtt or (link or _broker(config))()
            relays[name] = MqttRelay(burner.relay, mqtt,
                                     off_pulses=burner.wiring is Wiring.NORMALLY_OPEN)
        else:
            raise ConfigError(f"burner {name!r}: relay type {kind!r} cannot be driven here")
    return relays


def _broker(config: Config | StoveConfig) -> Callable[[], MqttLink]:
    def connect() -> MqttLink:
        from .mqtt import MqttBroker

        if not isinstance(config, Config) or config.mqtt is None:
            raise ConfigError("an MQTT relay needs the `mqtt:` broker section")
        return MqttBroker(config.mqtt)

    return connect
