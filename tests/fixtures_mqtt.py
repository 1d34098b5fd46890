"""A real mosquitto on a free loopback port, and simulated MQTT relays on it. No mocks."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import SimRelay, sim_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mosquitto:
    """One mosquitto process; ``restart()`` keeps the port (a broker restarted mid-session)."""

    def __init__(self, workdir: Path) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.conf = workdir / f"mosquitto-{self.port}.conf"
        # mosquitto 2 listens on nothing and refuses anonymous clients unless told.
        self.conf.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\n"
        )
        self.log = workdir / f"mosquitto-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log,
                                          stderr=subprocess.STDOUT)
        until = time.monotonic() + 5
        while time.monotonic() < until:
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-500:]}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker shared by the whole session (each test uses its own topics)."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test, which may stop or restart it."""
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def lit_burner(name: str) -> Burner:
    """A burner burning steadily with a warm thermocouple, on its own frozen clock."""
    clock = [0.0]
    burner = Burner(name, clock=lambda: clock[0])
    burner.push_and_turn()
    clock[0] += 5  # long enough for the thermocouple to hold the valve
    burner.release()
    return burner


@dataclass
class MqttSim:
    sim: SimRelay
    relay: dict[str, Any]  #: the relay block a user would write for it

    @property
    def burner(self) -> Burner:
        return self.sim.burner


@pytest.fixture
def mqtt_sim(mosquitto: Mosquitto) -> Iterator[Callable[..., MqttSim]]:
    """Factory: start a simulated relay of a dialect (lit burner) on the session broker."""
    started: list[SimRelay] = []

    def start(relay: dict[str, Any], *, wiring: Wiring = Wiring.NORMALLY_CLOSED,
              broker: Mosquitto | None = None, **kwargs: Any) -> MqttSim:
        broker = broker or mosquitto
        config = MqttRelayConfig.model_validate({"type": "mqtt", **relay})
        sim = sim_for(config, lit_burner(relay.get("topic", "generic")), wiring,
                      host=broker.host, port=broker.port, **kwargs)
        sim.start()
        started.append(sim)
        return MqttSim(sim, relay)

    yield start
    for sim in started:
        sim.stop()
