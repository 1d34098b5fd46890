"""A real mosquitto on a free loopback port, and simulated MQTT relays on it. No mocks."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import Wiring
from gasstove.sim.broker import Mosquitto, mosquitto_installed
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import SimRelay, sim_for

from .fixtures_miio import lit_burner


def _mosquitto(workdir: Path) -> Mosquitto:
    if not mosquitto_installed():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return Mosquitto(workdir)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker shared by the whole session (each test uses its own topics)."""
    broker = _mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test, which may stop or restart it."""
    broker = _mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def configured_mosquitto(tmp_path: Path) -> Iterator[Callable[[str], Mosquitto]]:
    """Factory: a broker for one test, started with ``config`` after its listener line
    instead of ``allow_anonymous true`` (password_file, acl_file, more listeners).

    It runs as our user: started by root, mosquitto would become ``mosquitto``
    and could not read the files of the test's own temporary folder."""
    started: list[Mosquitto] = []

    def start(config: str) -> Mosquitto:
        broker = _mosquitto(tmp_path)
        broker.conf.write_text(f"listener {broker.port} {broker.host}\npersistence false\n"
                               f"set_tcp_nodelay true\nuser {getpass.getuser()}\n{config}")
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()


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
