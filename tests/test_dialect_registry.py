"""A dialect owns its name and keys: the config model, the simulator, `stove sim mqtt` and
Home Assistant's form all follow ``REGISTRY``, and a dialect added there shows up in each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer

from gasstove.adapters.relays import build_relays
from gasstove.cli.sim_mqtt import register, relay_block
from gasstove.control import Stove
from gasstove.domain.config import Config
from gasstove.domain.dialects import REGISTRY, Dialect, Message, ParseError, Report, topic_dialects
from gasstove.domain.dialects.base import text, word
from gasstove.domain.errors import UsageError
from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import DevicePulse, Wiring
from gasstove.domain.power_on import PowerOn
from gasstove.sim.broker import Mosquitto
from gasstove.sim.burner import Burner
from gasstove.sim.mqtt_relays import SIMS, SimRelay, sim_for
from tests.fixtures_mqtt import MqttSim

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / "gasstove"


@dataclass(frozen=True)
class Toy(Dialect):
    """A firmware nobody ships: ``<topic>/set`` takes 1/0, ``<topic>/state`` says 1/0."""

    name: ClassVar[str] = "toy"
    title: ClassVar[str] = "Toy relay"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "channel"})
    reports_unchanged: ClassVar[bool] = True
    topic: str

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> Toy:
        assert config.topic is not None
        return cls(f"{config.topic}/{config.channel or 0}")

    def describe(self) -> str:
        return f"toy {self.topic}"

    def subscriptions(self) -> tuple[str, ...]:
        return (f"{self.topic}/state",)

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=False, off=False)

    def _set(self, energised: bool) -> list[Message]:
        return [Message(f"{self.topic}/set", "1" if energised else "0")]

    def power_on_fix(self, wanted: PowerOn) -> str:
        return "a toy has no power-on setting"

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic != f"{self.topic}/state":
            raise ParseError(f"not a topic of {self.describe()}")
        return Report(energised=word(text(payload), "1", "0", "state"))


class ToySim(SimRelay):
    kind = Toy

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring,
                 **kwargs: Any) -> None:
        self.dialect = Toy.from_config(config)
        super().__init__(config, burner, wiring, **kwargs)

    def command_topics(self) -> list[str]:
        return [f"{self.dialect.topic}/set"]

    def availability(self) -> None:
        return None

    def on_command(self, topic: str, payload: str) -> None:
        if not self.ignore_commands:
            self.set(payload.strip() == "1", f"command {payload}")

    def report(self) -> None:
        self.publish(f"{self.dialect.topic}/state", "1" if self.energised else "0")


@pytest.fixture
def toy() -> Iterator[None]:
    """The toy dialect and its simulator registered for one test, as a new module would be."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, "toy", Toy)
        patch.setitem(SIMS, "toy", ToySim)
        yield


def _sim_mqtt_help() -> dict[str, str]:
    """`stove sim mqtt`'s option help texts, as built when the command is registered."""
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    command = typer.main.get_command(app).commands["mqtt"]  # type: ignore[attr-defined]
    return {str(p.name): str(getattr(p, "help", "")) for p in command.params}


def _config_error(block: dict[str, Any]) -> str:
    with pytest.raises(ValueError, match=r".") as caught:
        MqttRelayConfig.model_validate(block)
    return str(caught.value)


def _agree(names: list[str]) -> None:
    """Every place that lists dialects lists exactly ``names``."""
    assert list(REGISTRY) == names and all(REGISTRY[n].name == n for n in names)
    assert list(SIMS) == names  # a dialect the simulator cannot play is not one we ship
    for name in names:
        block = REGISTRY[name].example(f"{name}-relay")
        config = MqttRelayConfig.model_validate(block)
        assert type(config.dialect_impl()) is REGISTRY[name]
        assert type(sim_for(config, Burner(name), Wiring.NORMALLY_CLOSED)) is SIMS[name]
        assert set(REGISTRY[name].required) <= REGISTRY[name].keys
    shown = _sim_mqtt_help()
    assert all(name in shown["dialect"] for name in names), shown["dialect"]
    for key in ("channel", "auto_off", "auto_on"):
        readers = [n for n in names if key in REGISTRY[n].keys]
        assert all(n in shown[key] for n in readers), (key, shown[key])
    error = _config_error({"type": "mqtt", "dialect": "sonoff", "topic": "k"})
    assert all(repr(name) in error for name in names), error
    assert topic_dialects() == {n: REGISTRY[n].title for n in names
                                if REGISTRY[n].required == ("topic",)}


def test_every_registry_agrees() -> None:
    _agree(["tasmota", "shelly", "shelly_rpc", "zigbee2mqtt", "esphome", "generic"])
    # Every key of a relay block is read by some dialect, and every key a dialect reads
    # is one the config model has.
    fields = set(MqttRelayConfig.model_fields) - {"type", "dialect"}
    assert set().union(*(cls.keys for cls in REGISTRY.values())) == fields
    # Home Assistant's form offers the one-topic dialects, in the registry's order.
    assert list(topic_dialects()) == ["tasmota", "shelly", "shelly_rpc", "zigbee2mqtt", "esphome"]
    # A translated label is optional (the title is shown without one), but never stale.
    for file in [COMPONENT / "strings.json", *sorted((COMPONENT / "translations").glob("*.json"))]:
        labels = json.loads(file.read_text())["selector"]["dialect"]["options"]
        assert set(labels) <= set(topic_dialects()), file


def test_a_new_dialect_shows_up_everywhere(toy: None) -> None:
    _agree(["tasmota", "shelly", "shelly_rpc", "zigbee2mqtt", "esphome", "generic", "toy"])
    assert topic_dialects()["toy"] == "Toy relay"  # Home Assistant's form (see tests_ha)
    assert relay_block("toy", "t", 2, False, False) == {
        "type": "mqtt", "dialect": "toy", "topic": "t", "channel": 2}
    with pytest.raises(UsageError, match="--auto-off is not used by dialect toy"):
        relay_block("toy", "t", None, True, False)
    # Its keys and requirements come from the class.
    assert "switch: not used by dialect toy (it reads: channel, topic)" in _config_error(
        {"type": "mqtt", "dialect": "toy", "topic": "t", "switch": "relay"})
    assert "topic: missing (dialect toy needs it)" in _config_error(
        {"type": "mqtt", "dialect": "toy"})


def test_a_new_dialect_shuts_a_burner_off_through_the_stove(
        toy: None, mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim]) -> None:
    sim = mqtt_sim({"dialect": "toy", "topic": "toy-kitchen", "channel": 1})
    assert sim.burner.lit
    config = Config.model_validate({
        "stove": {"deadline": 2.0, "burners": {"front": {
            "wiring": "normally_closed", "cut_seconds": 1,
            "relay": {"type": "mqtt", "dialect": "toy", "topic": "toy-kitchen", "channel": 1}}}},
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port}})

    async def off() -> Any:
        stove = Stove(config.stove, build_relays(config))
        try:
            return (await stove.shut_off(["front"]))[0]
        finally:
            await stove.close()

    outcome = asyncio.run(off())
    assert outcome.ok and outcome.restored, outcome.message
    state = sim.burner.state()
    assert not state.flame and state.loop_closed
