"""A burner on an MQTT relay, through Home Assistant's own ``mqtt`` integration, on a real broker.

Nothing is mocked: a real mosquitto (``gasstove.sim.broker``, as ``stove demo``
and the library's tests use it), Home Assistant's MQTT client connected to it,
and the library's simulated Tasmota relay wired to a simulated burner. The
simulator uses paho 2 and Home Assistant 2024.3 pins paho 1.6, so it runs as
``stove sim mqtt`` in the library's venv (``.venv``), and "the flame went out"
is read from the burner states it prints.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from gasstove.sim.broker import Mosquitto, mosquitto_installed

from .conftest import ROOT, entry_data, subprocess_env

STOVE = ROOT / ".venv" / "bin" / "stove"


class SimProcess:
    """``stove sim mqtt`` in the library's venv; its output lines are collected as they come."""

    def __init__(self, broker: Mosquitto, topic: str) -> None:
        self.proc = subprocess.Popen(
            [str(STOVE), "sim", "mqtt", "--dialect", "tasmota", "--topic", topic,
             "--broker", f"{broker.host}:{broker.port}", "--lit"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=subprocess_env(PYTHONPATH=str(ROOT)),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def burner(self) -> list[str]:
        """The burner states printed so far ("FLAME valve open ... loop closed")."""
        return [line.split("burner: ", 1)[1] for line in self.lines if "burner: " in line]

    async def until(self, condition: Callable[[], bool], within: float) -> None:
        end = time.monotonic() + within
        while not condition():
            assert time.monotonic() < end, "\n".join(self.lines)
            await asyncio.sleep(0.05)

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self._reader.join(5)


@pytest.fixture
def broker(socket_enabled: None, tmp_path: Path) -> Iterator[Mosquitto]:
    if not mosquitto_installed():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    if not STOVE.exists():
        pytest.skip("the library venv is missing: run scripts/setup-venv")
    server = Mosquitto(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def ha_mqtt(hass: HomeAssistant, broker: Mosquitto,
                  mock_hass_config: None) -> AsyncIterator[MockConfigEntry]:
    """Home Assistant's MQTT integration (no YAML configuration), connected to the real broker."""
    # No birth message: Home Assistant would hold it until it has started, which the
    # harness's instance never announces (and the pending task would outlive the test).
    entry = MockConfigEntry(domain="mqtt", data={"broker": broker.host, "port": broker.port,
                                                 "birth_message": {}})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    end = time.monotonic() + 5
    while not mqtt.is_connected(hass):
        assert time.monotonic() < end, "Home Assistant did not connect to mosquitto"
        await asyncio.sleep(0.05)
    yield entry
    # Stops paho's network thread (the harness fails a test that leaves a thread behind).
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def tasmota(broker: Mosquitto) -> AsyncIterator[tuple[SimProcess, str]]:
    topic = f"stove-{secrets.token_hex(3)}"
    sim = SimProcess(broker, topic)
    try:
        # --lit holds the knob for 2.5 s of real time, as a hand would.
        await sim.until(lambda: any(s.startswith("FLAME") for s in sim.burner()), 15)
        yield sim, topic
    finally:
        await asyncio.to_thread(sim.stop)  # waits for the process: not on the event loop


async def _setup(hass: HomeAssistant, topic: str) -> MockConfigEntry:
    burner = {"wiring": "normally_closed", "cut_seconds": 1,
              "relay": {"type": "mqtt", "dialect": "tasmota", "topic": topic, "channel": 1}}
    # Home Assistant debounces subscriptions (1 s while it starts): a deadline that covers it.
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-mqtt",
                            data=entry_data({"left": burner}, deadline=5.0))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_button_puts_the_flame_out_through_home_assistant_mqtt(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, tasmota: tuple[SimProcess, str]
) -> None:
    sim, topic = tasmota
    entry = await _setup(hass, topic)
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.kitchen_left_burner").state == "ready"  # read from the device
    events = async_capture_events(hass, "gasstove_shut_off")

    await hass.services.async_call("button", "press",
                                   {"entity_id": "button.kitchen_left_shut_off_now"}, blocking=True)

    # The press returned only once the device's own report confirmed the cut.
    assert [e.data["burner"] for e in events] == ["left"]
    # The simulated burner: the loop opened, the flame went out, the loop closed again
    # (so it can be relit by hand) and the flame stayed out.
    await sim.until(lambda: "loop closed" in sim.burner()[-1], 5)
    after = sim.burner()[[s.startswith("FLAME") for s in sim.burner()].index(True) + 1:]
    assert after and all(s.startswith("out") for s in after), after
    # The relay's own events (printed as they happen; the burner lines above are
    # sampled every 50 ms and may miss a state on a loaded machine): an ON pulse
    # (normally closed wiring) and its end.
    relay_events = [line for line in sim.lines if line.startswith("relay ")]
    assert [e.split()[1] for e in relay_events][-2:] == ["energised", "released"], relay_events
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_relay_that_went_offline_fails_at_once(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, tasmota: tuple[SimProcess, str]
) -> None:
    sim, topic = tasmota
    entry = await _setup(hass, topic)
    failed = async_capture_events(hass, "gasstove_shut_off_failed")
    # A power cut: the broker publishes the relay's will, a retained "Offline".
    await asyncio.to_thread(sim.stop, signal.SIGKILL)
    await asyncio.sleep(0.5)  # the broker notices the dropped connection at once on loopback

    start = time.monotonic()
    with pytest.raises(HomeAssistantError, match="offline"):
        await hass.services.async_call("button", "press",
                                       {"entity_id": "button.kitchen_left_shut_off_now"},
                                       blocking=True)
    assert time.monotonic() - start < 1
    assert [e.data["burner"] for e in failed] == ["left"]
    await hass.config_entries.async_unload(entry.entry_id)

