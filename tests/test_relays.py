"""One relay factory: the CLI, the daemon and the Home Assistant integration all pick a
burner's adapter through ``gasstove.build_relays``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gasstove import ConfigError, MiioRelay, MqttRelay, StoveConfig, build_relays
from gasstove.domain.relay import Relay

INTEGRATION = Path(__file__).parent.parent / "custom_components" / "gasstove"

STOVE = StoveConfig.model_validate({"burners": {
    "left": {"relay": {"type": "miio", "host": "127.0.0.9", "token": "00" * 16}},
    "right": {"wiring": "normally_open",
              "relay": {"type": "mqtt", "dialect": "tasmota", "topic": "right"}},
    "back": {"relay": {"type": "mqtt", "dialect": "tasmota", "topic": "back"}},
}})


class Link:
    def __init__(self) -> None:
        self.attached = 0

    def attach(self) -> None:
        self.attached += 1


def test_mqtt_relays_share_one_link_made_when_first_needed_and_wiring_decides_off_pulses() -> None:
    made: list[Link] = []

    def link() -> Link:
        made.append(Link())
        return made[-1]

    relays = build_relays(STOVE, link)  # type: ignore[arg-type]
    assert isinstance(relays["left"], MiioRelay)
    right, back = relays["right"], relays["back"]
    assert isinstance(right, MqttRelay) and isinstance(back, MqttRelay)
    assert len(made) == 1 and made[0].attached == 2
    # Tasmota's clear guards only a cut that is an OFF pulse (normally_open wiring)
    assert right.dialect.off_pulses is True  # type: ignore[attr-defined]
    assert back.dialect.off_pulses is False  # type: ignore[attr-defined]


def test_a_front_end_adds_its_own_relay_type_and_an_mqtt_relay_without_a_broker_is_one_line(
) -> None:
    hass_stove = StoveConfig.model_validate({"burners": {"left": {"relay": {
        "type": "hass", "entity_id": "switch.stove_left"}}}})
    built: list[str] = []

    def switch(burner: object) -> Relay:
        built.append(burner.relay.entity_id)  # type: ignore[attr-defined]
        return object()  # type: ignore[return-value]

    build_relays(hass_stove, others={"hass": switch})
    assert built == ["switch.stove_left"]
    with pytest.raises(ConfigError, match="cannot be driven here"):
        build_relays(hass_stove)
    with pytest.raises(ConfigError, match="needs the `mqtt:` broker section"):
        build_relays(STOVE)


def test_the_integration_builds_no_adapter_itself() -> None:
    for path in INTEGRATION.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("MiioRelay", "MqttRelay"), \
                    f"{path.name}:{node.lineno} builds a relay adapter: use gasstove.build_relays"
