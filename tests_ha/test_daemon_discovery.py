"""`stove serve`'s MQTT discovery in a real Home Assistant: its MQTT integration, a real broker.

Nothing is mocked between the daemon and Home Assistant: a real mosquitto, a
simulated Tasmota relay (``stove sim mqtt``), a real ``stove serve`` process
publishing its discovery configs, and Home Assistant's own MQTT integration
creating entities from them. The daemon and the simulator use paho 2 and run in
the library's venv, not Home Assistant's (whose paho is its own): the
``.venv`` of this checkout, found from this file (what ``scripts/setup-venv``
creates, in CI too; the same venv ``test_mqtt`` runs ``stove sim`` from), with
this checkout first on ``PYTHONPATH``.

What a Home Assistant user relies on, checked here: the entity ids the README
names exist (and its failure automation fires), every control stays callable
while a relay is unreachable (a press then ends in the alert and the problem
sensor, never in Home Assistant's silent skip of an unavailable entity), the
relay's availability shows within a second, and a burner removed from the
configuration leaves no entity behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.components import mqtt
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from gasstove.domain.remote import remote_for
from gasstove.sim.broker import Mosquitto

from . import test_mqtt
from .conftest import ROOT, subprocess_env
from .test_mqtt import SimProcess

# The real broker and Home Assistant's MQTT integration on it, as in test_mqtt.
broker = test_mqtt.broker
ha_mqtt = test_mqtt.ha_mqtt

LIBRARY_PYTHON = test_mqtt.STOVE.parent / "python"
README = ROOT / "README.md"
#: Each burner's flame input (ON / OFF), published by the test as a flame sensor would.
FLAME_TOPIC = "sensors/{}/flame"
#: A smoke alarm (ON / OFF): the stove guard's hazard input (test_daemon_guard).
SMOKE_TOPIC = "sensors/smoke"
#: What the measurements below are printed with (pytest -s shows them).
FIGURES: dict[str, float] = {}


class DaemonProcess:
    """``stove serve`` in the library's venv, on a config file of its own."""

    def __init__(self, tmp_path: Path, broker: Mosquitto, relays: dict[str, str]) -> None:
        self.config = tmp_path / "gasstove.yaml"
        self.log = tmp_path / "daemon.log"
        self.write(broker, relays)
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp = tmp_path

    def write(self, broker: Mosquitto, relays: dict[str, str]) -> None:
        burners = "".join(
            f"    {name}:\n      cut_seconds: 1s\n"
            f"      relay: {{type: mqtt, dialect: tasmota, topic: {topic}}}\n"
            f"      flame: {{topic: {FLAME_TOPIC.format(name)}}}\n"
            for name, topic in relays.items())
        self.config.write_text(
            f"stove:\n  name: Kitchen\n  deadline: 2s\n  burners:\n{burners}"
            f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
            f"daemon:\n  database: {self.config.parent}/g.db\n"
            f"  socket: {self.config.parent}/d.sock\n"
            f"guard:\n  hazards: [{{topic: {SMOKE_TOPIC}, kind: smoke}}]\n")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(LIBRARY_PYTHON), "-m", "gasstove", "-c", str(self.config), "serve"],
                stdout=log, stderr=subprocess.STDOUT,
                env=subprocess_env(PYTHONPATH=str(ROOT)))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def library_venv() -> None:
    if not LIBRARY_PYTHON.exists():
        pytest.skip(f"the library venv is missing ({LIBRARY_PYTHON}): run scripts/setup-venv")


@pytest.fixture
async def relays(broker: Mosquitto, library_venv: None) -> AsyncIterator[dict[str, SimProcess]]:
    """Two simulated Tasmota relays with lit burners."""
    sims = {name: SimProcess(broker, f"stove-{name}-{os.getpid()}") for name in ("left", "right")}
    try:
        for sim in sims.values():
            await sim.until(lambda sim=sim: any(s.startswith("FLAME") for s in sim.burner()), 15)
        yield sims
    finally:
        for sim in sims.values():
            await asyncio.to_thread(sim.stop)


def topic_of(sim: SimProcess) -> str:
    return sim.proc.args[sim.proc.args.index("--topic") + 1]  # type: ignore[no-any-return]


@pytest.fixture
async def daemon(tmp_path: Path, broker: Mosquitto,
                 relays: dict[str, SimProcess]) -> AsyncIterator[DaemonProcess]:
    served = DaemonProcess(tmp_path, broker, {n: topic_of(s) for n, s in relays.items()})
    served.start()
    try:
        yield served
    finally:
        await asyncio.to_thread(served.stop)
        print(served.log.read_text()[-3000:])  # shown when a test fails


async def until(hass: HomeAssistant, condition: Callable[[], bool], within: float,
                what: str) -> float:
    """Seconds until ``condition()`` holds, looked at every 10 ms on Home Assistant's loop."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within, f"not within {within} s: {what}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def state(hass: HomeAssistant, entity_id: str) -> str | None:
    found = hass.states.get(entity_id)
    return None if found is None else found.state


def expected_entities(burners: list[str]) -> list[str]:
    """The entity ids the daemon asks for (the domain layer says which)."""
    remote = remote_for("Kitchen", burners, topic=None, discovery_prefix="homeassistant")
    return [config["default_entity_id"] for _, config in remote.discovery(burners)]


def readme_mqtt_part() -> str:
    """The README's part on the daemon's MQTT and discovery, to its failure automation."""
    text = README.read_text()
    return text[text.index("### Remote control over MQTT"):text.index("\n## Home Assistant\n")]


def readme_entity_ids() -> set[str]:
    """The ids the README gives for its example stove, Kitchen (not services such as
    ``button.press``)."""
    return set(re.findall(r"\b(?:button|number|sensor|binary_sensor|lock)\.kitchen_[a-z0-9_]+",
                          readme_mqtt_part()))


def readme_automations() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", readme_mqtt_part(), re.S)
    automations: list[dict[str, Any]] = []
    for block in blocks:
        loaded = yaml.safe_load(block)
        if isinstance(loaded, dict) and "automation" in loaded:
            automations += loaded["automation"]
    return automations


async def test_the_daemon_in_home_assistant(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, broker: Mosquitto,
    relays: dict[str, SimProcess], daemon: DaemonProcess,
) -> None:
    expected = expected_entities(["left", "right"])
    await until(hass, lambda: all(state(hass, e) not in (None, STATE_UNAVAILABLE)
                                  for e in expected), 20, "every discovered entity available")
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_left_relay_connection") == "on",
                5, "the relay read")
    # Entities, names and what they show (Home Assistant 2025.4: ids from object_id).
    assert state(hass, "sensor.kitchen_left_relay") == "Ready"
    assert state(hass, "lock.kitchen_left_lock") == "unlocked"
    assert state(hass, "number.kitchen_left_shut_off_in") == "0"
    assert state(hass, "binary_sensor.kitchen_left_shut_off_problem") == "off"
    assert hass.states.get("button.kitchen_left_shut_off").attributes["friendly_name"] == (
        "Kitchen gas stove Left shut off")
    registry = er.async_get(hass)
    assert registry.async_get("sensor.kitchen_left_relay").entity_category == "diagnostic"
    device_ids = {registry.async_get(e).device_id for e in expected}
    assert len(device_ids) == 1, "one device per stove"

    # The README's MQTT examples name ids that exist, and its automation loads.
    named = readme_entity_ids()
    assert named, "the README names the discovered entities"
    missing = sorted(e for e in named if hass.states.get(e) is None)
    assert not missing, f"README names entities the daemon does not create: {missing}"
    automations = readme_automations()
    assert automations, "the README has an automation example"
    notified = async_mock_service(hass, "notify", "mobile_app_my_phone")
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()

    # The burner is lit: the README's automation sets the number, which arms a timer and
    # shows the minutes left; 0 cancels; so does the button.
    await mqtt.async_publish(hass, FLAME_TOPIC.format("left"), "ON")
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_left_flame") == "on", 5, "lit")
    await until(hass, lambda: state(hass, "number.kitchen_left_shut_off_in") == "45", 5,
                "the README's automation armed a timer")
    assert state(hass, "sensor.kitchen_left_shut_off_at") not in ("unknown", None)
    await hass.services.async_call("number", "set_value", {
        "entity_id": "number.kitchen_left_shut_off_in", "value": 0}, blocking=True)
    await until(hass, lambda: state(hass, "sensor.kitchen_left_shut_off_at") == "unknown", 5,
                "0 cancels")
    assert state(hass, "number.kitchen_left_shut_off_in") == "0"
    await hass.services.async_call("number", "set_value", {
        "entity_id": "number.kitchen_right_shut_off_in", "value": 5}, blocking=True)
    await until(hass, lambda: state(hass, "number.kitchen_right_shut_off_in") == "5", 5, "armed")
    await hass.services.async_call("button", "press", {
        "entity_id": "button.kitchen_right_cancel_timer"}, blocking=True)
    await until(hass, lambda: state(hass, "number.kitchen_right_shut_off_in") == "0", 5,
                "the cancel button cancels")

    # The lock.
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.kitchen_right_lock"},
                                   blocking=True)
    await until(hass, lambda: state(hass, "lock.kitchen_right_lock") == "locked", 5, "locked")
    assert state(hass, "sensor.kitchen_right_relay") == "Locked"
    await hass.services.async_call("lock", "unlock", {"entity_id": "lock.kitchen_right_lock"},
                                   blocking=True)
    await until(hass, lambda: state(hass, "lock.kitchen_right_lock") == "unlocked", 5, "unlocked")

    # A press cuts the loop, and the relay sensor shows the cut while it happens.
    relay_states: list[str] = []
    unsub = hass.bus.async_listen("state_changed", lambda e: relay_states.append(
        e.data["new_state"].state) if e.data["entity_id"] == "sensor.kitchen_left_relay" else None)
    await hass.services.async_call("button", "press", {
        "entity_id": "button.kitchen_left_shut_off"}, blocking=True)
    left = relays["left"]
    await left.until(lambda: "loop closed" in left.burner()[-1] and any(
        s.startswith("out") for s in left.burner()), 10)
    await until(hass, lambda: relay_states[-1:] == ["Ready"] and "Cutting" in relay_states, 5,
                f"Cutting then Ready (saw {relay_states})")
    unsub()
    assert "Left cutting" not in relay_states

    # The relay loses power: its LWT. Only the relay connection (diagnostic) says so;
    # every control stays available.
    alerts: list[dict[str, Any]] = []

    def alert(message: Any) -> None:
        alerts.append(json.loads(message.payload))

    unsub_alert = await mqtt.async_subscribe(hass, "gasstove/kitchen/alert", alert)
    lwt: list[tuple[float, str]] = []  # when Home Assistant itself hears the relay's LWT
    unsub_lwt = await mqtt.async_subscribe(
        hass, f"tele/{topic_of(left)}/LWT",
        lambda m: lwt.append((time.monotonic(), str(m.payload))))
    await until(hass, lambda: bool(lwt), 5, "Home Assistant subscribed to the relay's LWT")
    killed = time.monotonic()
    await asyncio.to_thread(left.stop, signal.SIGKILL)
    await until(hass, lambda: state(
        hass, "binary_sensor.kitchen_left_relay_connection") == "off", 5, "relay offline in HA")
    shown = time.monotonic()
    FIGURES["kill_to_ha_offline_s"] = shown - killed
    await until(hass, lambda: lwt[-1][1] == "Offline", 5, "HA's own copy of the LWT")
    # Both reach HA's loop from one connection: negative means the daemon's state came first.
    FIGURES["lwt_to_ha_offline_s"] = shown - lwt[-1][0]
    assert shown - killed < 1, f"offline shown {shown - killed:.2f} s after the power cut"
    assert state(hass, "sensor.kitchen_left_relay") == "Unreachable"
    for entity_id in ("button.kitchen_left_shut_off", "number.kitchen_left_shut_off_in",
                      "lock.kitchen_left_lock", "button.kitchen_left_cancel_timer"):
        assert state(hass, entity_id) != STATE_UNAVAILABLE, f"{entity_id} must stay callable"

    # A press now reaches the daemon, which tries, fails within the deadline, and says so.
    pressed = time.monotonic()
    await hass.services.async_call("button", "press", {
        "entity_id": "button.kitchen_left_shut_off"}, blocking=True)
    took = await until(hass, lambda: state(
        hass, "binary_sensor.kitchen_left_shut_off_problem") == "on", 5, "the problem sensor on")
    FIGURES["press_offline_to_problem_s"] = took
    await until(hass, lambda: bool(alerts), 5, "the alert on MQTT")
    assert alerts[0]["burner"] == "left" and alerts[0]["source"] == "ha"
    assert alerts[0]["result"] == "failed" and "offline" in alerts[0]["reason"]
    assert time.monotonic() - pressed < 2 + 1, "within the deadline"
    # ... and the README's automation told the phone.
    await until(hass, lambda: bool(notified), 5, "the README automation notified")
    assert notified[0].data["title"] == "The stove did NOT confirm a shut-off"
    assert isinstance(notified[0], ServiceCall)
    unsub_alert()

    # Power back: "Online" and its state, shown within a second of the LWT.
    relays["left"] = SimProcess(broker, topic_of(left))
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_left_relay_connection") == "on",
                15, "relay back in HA")
    shown = time.monotonic()
    await until(hass, lambda: lwt[-1][1] == "Online", 5, "HA's own copy of the LWT")
    FIGURES["lwt_to_ha_online_s"] = shown - lwt[-1][0]
    assert FIGURES["lwt_to_ha_online_s"] < 1
    await until(hass, lambda: state(hass, "sensor.kitchen_left_relay") == "Ready", 5, "read")
    unsub_lwt()
    print(f"\nFIGURES {json.dumps({k: round(v, 3) for k, v in FIGURES.items()})}")


async def test_a_removed_burner_leaves_no_entity_behind(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, broker: Mosquitto,
    relays: dict[str, SimProcess], daemon: DaemonProcess,
) -> None:
    right = expected_entities(["right"])
    await until(hass, lambda: all(state(hass, e) not in (None, STATE_UNAVAILABLE)
                                  for e in right), 20, "the right burner's entities")
    await asyncio.to_thread(daemon.stop)
    daemon.write(broker, {"left": topic_of(relays["left"])})  # the right burner is gone
    daemon.start()
    registry = er.async_get(hass)
    await until(hass, lambda: all(hass.states.get(e) is None and registry.async_get(e) is None
                                  for e in right), 20, "the right burner's entities removed")
    left = expected_entities(["left"])
    await until(hass, lambda: all(state(hass, e) not in (None, STATE_UNAVAILABLE)
                                  for e in left), 20, "the left burner's entities kept")
