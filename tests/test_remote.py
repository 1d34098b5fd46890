"""The daemon's MQTT surface as pure data: commands, state and Home Assistant discovery."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gasstove.domain.errors import UsageError
from gasstove.domain.flame import FlameInput
from gasstove.domain.remote import Remote, burner_state, remote_for

REMOTE = remote_for("Kitchen", ["left", "right"], topic=None, discovery_prefix="homeassistant")


def test_topics_live_under_the_stove() -> None:
    assert REMOTE.command == "gasstove/kitchen/set"
    assert REMOTE.burner_command("left") == "gasstove/kitchen/left/set"
    assert REMOTE.state("left") == "gasstove/kitchen/left/state"
    assert REMOTE.subscriptions() == ("gasstove/kitchen/set", "gasstove/kitchen/left/set",
                                      "gasstove/kitchen/right/set", "homeassistant/status")


def test_commands_parse_and_a_burner_topic_implies_the_burner() -> None:
    command = REMOTE.parse("gasstove/kitchen/left/set", b'{"action": "off", "in": "20m", "id": 7}')
    assert (command.action, command.burners, command.delay_s) == ("off", ("left",), 1200)
    assert command.source == "mqtt" and command.id == "7"
    command = REMOTE.parse("gasstove/kitchen/set", b'{"action": "lock", "source": "timer"}')
    assert command.burners == () and command.source == "mqtt", "only front ends may name themselves"
    command = REMOTE.parse("gasstove/kitchen/set", b'{"action": "lock", "source": "ha"}')
    assert command.source == "ha"


@pytest.mark.parametrize(
    ("topic", "payload", "error"),
    [
        ("gasstove/kitchen/set", b"off", "is not a JSON object"),
        ("gasstove/kitchen/left/set", b'{"action": "off", "burners": ["right"]}', "without burners"),
        ("gasstove/kitchen/set", b'{"action": "on"}', "action must be one of"),
        ("gasstove/kitchen/set", b"x" * 70000, "too large"),
    ],
)
def test_bad_commands_are_one_line_usage_errors(topic: str, payload: bytes, error: str) -> None:
    with pytest.raises(UsageError, match=error):
        REMOTE.parse(topic, payload)


@given(st.binary(max_size=300))
def test_no_payload_escapes_as_anything_but_a_usage_error(payload: bytes) -> None:
    try:
        REMOTE.parse("gasstove/kitchen/left/set", payload)
    except UsageError as err:
        assert "\n" not in str(err)


def test_state_tells_a_lock_from_a_relay_left_cutting() -> None:
    assert burner_state(relay="cutting", reachable=True, locked=True, timer_due=None,
                        lit=None)["status"] == "locked"
    state = burner_state(relay="cutting", reachable=True, locked=False, timer_due=1.8e9, lit=False)
    assert state["status"] == "left_cutting" and state["timer_due"].startswith("2027-01-15T08:00")
    assert state["problem"] is False
    failed = burner_state(relay="unknown", reachable=False, locked=False, timer_due=None,
                          lit=None, problem="shut-off NOT confirmed: no answer")
    assert failed["problem"] is True and failed["problem_reason"].startswith("shut-off NOT")


def test_state_shows_a_pulse_under_way_an_unreachable_relay_and_the_minutes_left() -> None:
    pulse = burner_state(relay="cutting", reachable=True, locked=False, timer_due=None, lit=None,
                         cutting=True)
    assert pulse["status"] == "cutting", "a cut happening is not a relay left cutting"
    gone = burner_state(relay="unknown", reachable=False, locked=False, timer_due=None, lit=None)
    assert gone["status"] == "unreachable" and gone["reachable"] is False
    never_read = burner_state(relay="unknown", reachable=None, locked=False, timer_due=None,
                              lit=None)
    assert never_read["status"] == "unknown" and never_read["reachable"] is None
    due = 1.8e9
    minutes = [burner_state(relay="resting", reachable=True, locked=False, timer_due=due, lit=None,
                            now=due - left)["timer_minutes"] for left in (1200, 1199.5, 61, 60, 1, -5)]
    assert minutes == [20, 20, 2, 1, 1, 0], "whole minutes left, rounded up, never negative"
    assert burner_state(relay="resting", reachable=True, locked=False, timer_due=None, lit=None,
                        now=due)["timer_minutes"] is None


def _entities(remote: Remote = REMOTE) -> dict[str, dict[str, Any]]:
    """Discovery configs by the entity id they ask for."""
    return {c["default_entity_id"]: c for _, c in remote.discovery(flame_inputs=["left"])}


def test_discovery_gives_each_burner_its_entities_on_one_device() -> None:
    configs = dict(REMOTE.discovery(flame_inputs=["left"]))
    assert sorted(c["default_entity_id"] for t, c in configs.items() if "/left_" in t) == [
        "binary_sensor.kitchen_left_flame", "binary_sensor.kitchen_left_relay_connection",
        "binary_sensor.kitchen_left_shut_off_problem", "button.kitchen_left_cancel_timer",
        "button.kitchen_left_shut_off", "button.kitchen_left_snooze", "lock.kitchen_left_lock",
        "number.kitchen_left_shut_off_in", "sensor.kitchen_left_relay",
        "sensor.kitchen_left_shut_off_at", "sensor.kitchen_left_shut_off_warning"]
    button = configs["homeassistant/button/gasstove_kitchen/left_shut_off/config"]
    assert json.loads(button["payload_press"]) == {"action": "off", "source": "ha"}
    assert button["command_topic"] == "gasstove/kitchen/left/set"
    assert button["device"]["identifiers"] == ["gasstove_kitchen"]
    entities = _entities()
    assert entities["sensor.kitchen_left_shut_off_at"]["device_class"] == "timestamp"
    assert entities["binary_sensor.kitchen_left_shut_off_problem"]["device_class"] == "problem"
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert not any("/right_flame/" in t for t in configs), "no flame input, no flame entity"
    off = remote_for("Kitchen", ["left"], topic="home/stove", discovery_prefix=None)
    assert off.discovery() == [] and off.command == "home/stove/set"


def test_every_control_is_available_whenever_the_daemon_is() -> None:
    """Home Assistant skips a service call on an unavailable entity without a word: a
    shut-off control tied to the relay's reachability would drop a press silently."""
    for entity_id, config in _entities().items():
        assert config["availability_topic"] == "gasstove/kitchen/availability", entity_id
        assert "availability" not in config, entity_id
    reach = _entities()["binary_sensor.kitchen_left_relay_connection"]
    assert reach["device_class"] == "connectivity" and reach["entity_category"] == "diagnostic"
    assert "reachable" in reach["value_template"]


def test_entity_ids_are_asked_for_in_the_way_of_every_home_assistant_version() -> None:
    """object_id up to 2026.3 (deprecated since 2025.10), default_entity_id since 2025.10."""
    for entity_id, config in _entities().items():
        component = entity_id.split(".")[0]
        assert config["object_id"] == entity_id.split(".", 1)[1]
        assert REMOTE.entity_id(component, *config["unique_id"].removeprefix(
            "gasstove_kitchen_").split("_", 1)) == entity_id
    odd = remote_for("Küche 2", ["back-left"], topic=None, discovery_prefix="homeassistant")
    assert odd.entity_id("button", "back-left", "shut_off") == "button.k_che_2_back_left_shut_off"


def test_names_say_shut_off_one_way() -> None:
    names = [c["name"] for c in _entities().values()]
    assert not any("shut-off" in n for n in names), names
    assert all(n.startswith("Left ") for n in names if "left" in n.lower())


def test_controls_are_honest() -> None:
    entities = _entities()
    number = entities["number.kitchen_left_shut_off_in"]
    assert number["min"] == 0, "0 cancels"
    assert number["state_topic"] == "gasstove/kitchen/left/state", "it shows the minutes left"
    assert "timer_minutes" in number["value_template"]
    assert '"action": "cancel"' in number["command_template"]
    cancel = entities["button.kitchen_left_cancel_timer"]
    assert json.loads(cancel["payload_press"]) == {"action": "cancel", "source": "ha"}
    assert "icon" not in entities["lock.kitchen_left_lock"], "Home Assistant's lock icons"
    relay = entities["sensor.kitchen_left_relay"]
    assert relay["entity_category"] == "diagnostic"
    assert relay["options"] == ["Ready", "Cutting", "Locked", "Left cutting", "Unreachable"]
    assert "unknown" not in relay["options"], "Home Assistant has its own unknown"


def test_leftovers_are_what_we_published_once_and_serve_no_more() -> None:
    kept = [t for t, _ in REMOTE.discovery()] + ["gasstove/kitchen/left/state"]
    ghosts = ["homeassistant/button/gasstove_kitchen/middle_shut_off/config",
              "homeassistant/binary_sensor/gasstove_kitchen/left_problem/config",
              "gasstove/kitchen/middle/state"]
    assert REMOTE.leftovers(kept + ghosts) == [ghosts[1], ghosts[0], ghosts[2]], "configs first"
    assert REMOTE.leftover_patterns() == ("gasstove/kitchen/+/state",
                                          "homeassistant/+/gasstove_kitchen/+/config")


@pytest.mark.parametrize(
    ("flame", "payload", "lit"),
    [
        (FlameInput(topic="t"), b"ON", True),
        (FlameInput(topic="t"), b" off ", False),
        (FlameInput(topic="t", json_path="sensor.flame"), b'{"sensor": {"flame": true}}', True),
        (FlameInput(topic="t", json_path="flame", lit="lit", out="out"), b'{"flame": "out"}', False),
        (FlameInput(topic="t", json_path="flame"), b'{"battery": 80}', None),
    ],
)
def test_flame_inputs_read_plain_and_json_payloads(flame: FlameInput, payload: bytes,
                                                    lit: bool | None) -> None:
    assert flame.parse(payload) is lit
