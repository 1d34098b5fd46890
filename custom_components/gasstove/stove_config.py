"""Config entry <-> the library's ``StoveConfig``, and the relays it names.

Entry ``data`` holds what identifies the hardware (burner names, wiring,
relay addresses and token); ``options`` holds what a user tunes afterwards
(cut length and aliases per burner, maximum burn time). Both go through the
library's pydantic models, so the UI accepts exactly what ``gasstove.yaml``
accepts and reports the same one-line errors.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from gasstove import Relay, StoveConfig
from gasstove import build_relays as relays_for

from .const import (
    CONF_ALIASES,
    CONF_BURNERS,
    CONF_CUT_SECONDS,
    CONF_DEADLINE,
    CONF_RELAY,
    DEFAULT_DEADLINE,
)


def stove_dict(data: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The ``stove:`` mapping of a gasstove.yaml for this entry."""
    burners: dict[str, Any] = {}
    cut = options.get(CONF_CUT_SECONDS, {})
    aliases = options.get(CONF_ALIASES, {})
    for name, burner in data[CONF_BURNERS].items():
        merged = dict(burner)
        if name in cut:
            merged[CONF_CUT_SECONDS] = cut[name]
        if name in aliases:
            merged[CONF_ALIASES] = list(aliases[name])
        burners[name] = merged
    return {"name": data.get("name", "stove"), CONF_DEADLINE: data.get(CONF_DEADLINE, DEFAULT_DEADLINE),
            CONF_BURNERS: burners}


def stove_config_from_entry(entry: ConfigEntry) -> StoveConfig:
    return StoveConfig.model_validate(stove_dict(dict(entry.data), dict(entry.options)))


def relay_key(relay: dict[str, Any]) -> str:
    """What makes a relay unique (host and property, or MQTT topic): two burners, or
    two config entries, may never drive the same relay."""
    return str(StoveConfig.model_validate(
        {"burners": {"probe": {CONF_RELAY: relay}}}
    ).burners["probe"].relay.describe())


def build_relays(hass: HomeAssistant, config: StoveConfig) -> dict[str, Relay]:
    """One relay adapter per burner, by the library's factory: its miio driver, or its MQTT
    relay carried by Home Assistant's MQTT connection (one link shared by the stove's
    relays), or a switch entity Home Assistant already has (:mod:`.switch_relay`)."""
    from .mqtt_link import HassMqttLink
    from .switch_relay import HassSwitchRelay

    return relays_for(config, lambda: HassMqttLink(hass),
                      others={"hass": lambda burner: HassSwitchRelay(hass, burner.relay)})
