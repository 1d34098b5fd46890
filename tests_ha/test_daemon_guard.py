"""The stove guard of `stove serve` in a real Home Assistant, through MQTT discovery only:
the warning sensor a text-to-speech automation reads, the "five more minutes" button,
and the hazard alarm that cuts and locks every burner (issue 16)."""

from __future__ import annotations

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from gasstove.sim.broker import Mosquitto

from . import test_daemon_discovery as discovery
from .test_daemon_discovery import SMOKE_TOPIC, DaemonProcess, state, until
from .test_mqtt import SimProcess

broker = discovery.broker
ha_mqtt = discovery.ha_mqtt
library_venv = discovery.library_venv
relays = discovery.relays
daemon = discovery.daemon


async def test_a_warning_is_shown_snoozed_and_a_smoke_alarm_locks_every_burner(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, broker: Mosquitto,
    relays: dict[str, SimProcess], daemon: DaemonProcess,
) -> None:
    warning = "sensor.kitchen_right_shut_off_warning"
    await until(hass, lambda: state(hass, warning) == "unknown", 20, "no warning standing")
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_hazard") == "off", 5,
                f"no alarm (saw {state(hass, 'binary_sensor.kitchen_hazard')})")

    # A timer shorter than warn_before (60 s) is warned of at once, in words to speak.
    await hass.services.async_call("number", "set_value", {
        "entity_id": "number.kitchen_right_shut_off_in", "value": 1}, blocking=True)
    await until(hass, lambda: (state(hass, warning) or "").startswith(
        "Right burner shuts off in "), 5, "the warning in Home Assistant")
    assert state(hass, warning).endswith(": its timer")  # type: ignore[union-attr]
    await hass.services.async_call("button", "press", {
        "entity_id": "button.kitchen_right_snooze"}, blocking=True)
    await until(hass, lambda: state(hass, warning) == "unknown", 5, "snoozed: no warning")
    await until(hass, lambda: state(hass, "number.kitchen_right_shut_off_in") == "5", 5,
                "the timer moved five minutes on")

    # The smoke alarm: every burner cut and locked at once, shown in Home Assistant.
    await mqtt.async_publish(hass, SMOKE_TOPIC, "ON")
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_hazard") == "on", 5, "hazard")
    await until(hass, lambda: state(hass, "lock.kitchen_left_lock") == "locked"
                and state(hass, "lock.kitchen_right_lock") == "locked", 5, "both locked")
    for sim in relays.values():
        await sim.until(lambda sim=sim: any(s.startswith("out") for s in sim.burner()), 10)
    await mqtt.async_publish(hass, SMOKE_TOPIC, "OFF")
    await until(hass, lambda: state(hass, "binary_sensor.kitchen_hazard") == "off", 5, "clear")
    assert state(hass, "lock.kitchen_left_lock") == "locked", "only a person unlocks"
    await hass.services.async_call("lock", "unlock", {"entity_id": "lock.kitchen_left_lock"},
                                   blocking=True)
    await until(hass, lambda: state(hass, "lock.kitchen_left_lock") == "unlocked", 5,
                "a person unlocked it")
