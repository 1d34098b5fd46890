"""Build the relay adapter each burner's configuration asks for."""

from __future__ import annotations

from ..domain.config import Config
from ..domain.relay import Relay


def build_relays(config: Config) -> dict[str, Relay]:
    relays: dict[str, Relay] = {}
    for name, burner in config.stove.burners.items():
        if burner.relay.type == "miio":
            from .miio_relay import MiioRelay

            relays[name] = MiioRelay(burner.relay)
    return relays
