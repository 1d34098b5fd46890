"""The daemon's MQTT surface as pure data: commands, state and Home Assistant discovery."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gasstove.domain.errors import UsageError
from gasstove.domain.flame import FlameInput
from gasstove.domain.remote import burner_state, remote_for

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


def test_discovery_gives_each_burner_its_entities_on_one_device() -> None:
    configs = dict(REMOTE.discovery(flame_inputs=["left"]))
    left = {t: c for t, c in configs.items() if "/left_" in t}
    assert sorted(t.split("/")[1] for t in left) == [
        "binary_sensor", "binary_sensor", "button", "lock", "number", "sensor", "sensor"]
    problem = configs["homeassistant/binary_sensor/gasstove_kitchen/left_problem/config"]
    assert problem["device_class"] == "problem"
    assert problem["availability"] == [{"topic": "gasstove/kitchen/availability"}], \
        "a problem must show while the relay is unreachable"
    button = configs["homeassistant/button/gasstove_kitchen/left_shut_off/config"]
    assert json.loads(button["payload_press"]) == {"action": "off", "source": "ha"}
    assert button["command_topic"] == "gasstove/kitchen/left/set"
    assert button["device"]["identifiers"] == ["gasstove_kitchen"]
    assert {"topic": "gasstove/kitchen/availability"} in button["availability"]
    sensor = configs["homeassistant/sensor/gasstove_kitchen/left_shut_off_at/config"]
    assert sensor["device_class"] == "timestamp"
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert not any("/right_flame/" in t for t in configs), "no flame input, no flame entity"
    off = remote_for("Kitchen", ["left"], topic="home/stove", discovery_prefix=None)
    assert off.discovery() == [] and off.command == "home/stove/set"


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
