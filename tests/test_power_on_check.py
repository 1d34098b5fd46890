"""`stove check` after a power cut (issue 16 item 6), on the real broker and real miio UDP.

The simulators answer the reads as their firmware does, starting from the
setting the device ships with (Tasmota PowerOnState 3, Shelly Gen2
match_input); the fix check prints is then applied the way a user would
(a publish of our own) and the next check finds it right. Nothing is ever
switched by a check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gasstove.domain.plan import Wiring
from tests.fixtures_miio import TOKEN, Run, SimRelay, burner_yaml, write_config
from tests.fixtures_mqtt import Mosquitto, MqttSim
from tests.test_mqtt import block

pytestmark = pytest.mark.timeout(60)

NC, NO = Wiring.NORMALLY_CLOSED, Wiring.NORMALLY_OPEN


def config_for(path: Path, broker: Mosquitto, sim: MqttSim, wiring: Wiring) -> Path:
    path.write_text(json.dumps({
        "stove": {"deadline": 2, "burners": {"left": {
            "wiring": wiring.value, "relay": {"type": "mqtt", **sim.relay}}}},
        "mqtt": {"host": broker.host, "port": broker.port}}))
    return path


def publish(broker: Mosquitto, topic: str, payload: str) -> None:
    """What a user does with the fix: one publish from a client of their own."""
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def check(stove: Run, config: Path) -> tuple[int, dict[str, Any], str]:
    code, out, _ = stove("-c", str(config), "check", "--json")
    (row,) = json.loads(out)["burners"]
    _, text, err = stove("-c", str(config), "check")
    return code, row, text + err


@pytest.mark.parametrize("wiring", [NC, NO])
def test_tasmota_as_shipped_is_found_and_the_printed_fix_makes_it_right(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
    wiring: Wiring,
) -> None:
    sim = mqtt_sim(block("tasmota"), wiring=wiring)
    topic = sim.relay["topic"]
    config = config_for(tmp_path / "c.yaml", mosquitto, sim, wiring)
    energised, lit = sim.sim.energised, sim.burner.lit
    code, row, text = check(stove, config)
    value = 0 if wiring is NC else 1
    assert code == 0 and row["power_on"] == {
        "setting": "last", "ok": False, "finding": row["power_on"]["finding"],
        "fix": f"send `PowerOnState {value}` to cmnd/{topic}/PowerOnState (Tasmota console: "
               f"PowerOnState {value}; it applies to every relay of the device)"}
    assert "stays cut until restored" in row["power_on"]["finding"]
    assert "left: after a power cut: comes back in its last saved state" in text
    assert f"fix: send `PowerOnState {value}` to cmnd/{topic}/PowerOnState" in text
    # Reading only: the setting, the relay and the flame are as they were.
    assert sim.sim.power_on_state == 3
    assert (sim.sim.energised, sim.burner.lit) == (energised, lit)

    publish(mosquitto, f"cmnd/{topic}/PowerOnState", str(value))
    code, row, text = check(stove, config)
    assert code == 0 and row["power_on"]["ok"] is True and row["power_on"]["fix"] is None
    assert row["power_on"]["setting"] == ("off" if wiring is NC else "on")
    assert "left: after a power cut: comes back at rest" in text and "fix:" not in text


@pytest.mark.parametrize(("wiring", "cutting"), [(NC, 1), (NO, 0)])
def test_tasmota_coming_back_cutting_is_a_warning(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
    wiring: Wiring, cutting: int,
) -> None:
    sim = mqtt_sim(block("tasmota"), wiring=wiring)
    sim.sim.power_on_state = cutting
    code, row, text = check(stove, config_for(tmp_path / "c.yaml", mosquitto, sim, wiring))
    assert code == 0 and row["power_on"]["ok"] is False
    assert "comes back CUTTING: every burner is held off" in text


def test_zigbee2mqtt_reads_power_on_behavior_with_a_get_and_the_fix_sets_it(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
) -> None:
    sim = mqtt_sim(block("zigbee2mqtt"))
    name = sim.relay["topic"]
    config = config_for(tmp_path / "c.yaml", mosquitto, sim, NC)
    code, row, text = check(stove, config)
    fix = f'publish {{"power_on_behavior": "off"}} to zigbee2mqtt/{name}/set'
    assert code == 0 and row["power_on"]["setting"] == "last" and row["power_on"]["fix"] == fix
    assert f"fix: {fix}" in text
    publish(mosquitto, f"zigbee2mqtt/{name}/set", '{"power_on_behavior": "off"}')
    code, row, _ = check(stove, config)
    assert code == 0 and row["power_on"]["ok"] is True and sim.sim.power_on_behavior == "off"


def test_zigbee2mqtt_a_retained_state_is_not_the_answer(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
) -> None:
    """A retained device state saying "off" (old, or anyone's) must not stand in for
    the device's answer: with a bridge that does not answer the /get, it is not read."""
    sim = mqtt_sim(block("zigbee2mqtt"))
    name = sim.relay["topic"]
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    client.publish(f"zigbee2mqtt/{name}", '{"state":"OFF","power_on_behavior":"off"}',
                   qos=1, retain=True).wait_for_publish(5)
    try:
        config = config_for(tmp_path / "c.yaml", mosquitto, sim, NC)
        sim.sim.power_on_behavior = "on"  # cutting, with normally_closed wiring
        _, row, _ = check(stove, config)
        assert row["power_on"]["setting"] == "on" and row["power_on"]["ok"] is False
        heard = sim.sim.on_command  # the bridge answers no /get of power_on_behavior

        def on_command(topic: str, payload: str) -> None:
            if not (topic.endswith("/get") and "power_on_behavior" in payload):
                heard(topic, payload)

        sim.sim.on_command = on_command  # type: ignore[method-assign]
        _, row, _ = check(stove, config)
        assert row["power_on"]["setting"] is None
        assert row["power_on"]["finding"].startswith("not read: no answer")
    finally:
        client.publish(f"zigbee2mqtt/{name}", "", qos=1, retain=True).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()


@pytest.mark.parametrize("wiring", [NC, NO])
def test_shelly_rpc_reads_initial_state_and_the_fix_sets_it(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
    wiring: Wiring,
) -> None:
    sim = mqtt_sim(block("shelly_rpc"), wiring=wiring)
    prefix = sim.relay["topic"]
    config = config_for(tmp_path / "c.yaml", mosquitto, sim, wiring)
    code, row, text = check(stove, config)
    assert code == 0 and row["power_on"]["setting"] == "match_input"
    assert "as its wall-switch input says" in text
    state = "off" if wiring is NC else "on"
    config_json = json.dumps({"id": 0, "config": {"initial_state": state}})
    assert f"call Switch.SetConfig {config_json} on {prefix}/rpc" in row["power_on"]["fix"]
    publish(mosquitto, f"{prefix}/rpc", json.dumps(
        {"id": 1, "src": "me", "method": "Switch.SetConfig",
         "params": json.loads(config_json)}))
    code, row, _ = check(stove, config)
    assert code == 0 and row["power_on"]["ok"] is True and row["power_on"]["setting"] == state


@pytest.mark.parametrize(("dialect", "says"), [
    ("shelly", "default_state=off"), ("esphome", "restore_mode: ALWAYS_OFF"),
    ("generic", "power-on state to off")])
def test_firmwares_that_cannot_be_asked_say_what_to_set(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
    dialect: str, says: str,
) -> None:
    sim = mqtt_sim(block(dialect))
    _, row, text = check(stove, config_for(tmp_path / "c.yaml", mosquitto, sim, NC))
    assert row["power_on"]["ok"] is None and row["power_on"]["setting"] is None
    assert says in row["power_on"]["fix"] and "cannot be read" in row["power_on"]["fix"]
    assert "left: after a power cut: cannot be read" in text and says in text


def test_a_relay_that_does_not_answer_the_read_is_said_not_read(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim], stove: Run, tmp_path: Path,
) -> None:
    """Tasmota's motor module (ESP8266) answers nothing to PowerOnState: the check says
    so and keeps the fix, without failing the relay (it was reached)."""
    sim = mqtt_sim(block("tasmota"))
    sim.sim.run = lambda command, arg, run=sim.sim.run: (  # type: ignore[method-assign]
        None if command.upper() == "POWERONSTATE" else run(command, arg))
    code, row, _ = check(stove, config_for(tmp_path / "c.yaml", mosquitto, sim, NC))
    assert code == 0 and row["ok"] and row["power_on"]["ok"] is None
    assert row["power_on"]["finding"].startswith("not read: no answer about its power-on")
    assert "PowerOnState 0" in row["power_on"]["fix"]


def test_miio_says_it_cannot_read_and_what_to_set(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim))
    code, out, _ = stove("-c", str(config), "check", "--json")
    (row,) = json.loads(out)["burners"]
    assert code == 0 and row["power_on"]["ok"] is None
    assert "cannot be read over miio" in row["power_on"]["fix"] and "comes back off" in \
        row["power_on"]["fix"]
    assert TOKEN not in out
    # Only the reads of identify and state went to the device.
    assert {r.get("method") for r in sim.device.requests} <= {"miIO.info", "get_properties"}
