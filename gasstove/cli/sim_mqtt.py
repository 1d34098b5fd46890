"""``stove sim mqtt``: one simulated MQTT relay (any dialect) on a real broker, in the foreground."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from ..domain.dialects import REGISTRY, listed, reading
from ..domain.errors import UsageError
from ..domain.plan import Wiring


def _broker(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--broker must be HOST:PORT, e.g. 127.0.0.1:1883, not {value!r}")
    return host, int(port)


def relay_block(dialect: str, topic: str, channel: int | None, auto_off: bool,
                auto_on: bool) -> dict[str, Any]:
    """The configuration block a user writes for this relay (the sim is built from it too)."""
    if (kind := REGISTRY.get(dialect)) is None:
        raise UsageError(f"--dialect must be {listed(list(REGISTRY))}, not {dialect!r}")
    block = kind.example(topic)
    if channel is not None:
        if "channel" not in kind.keys:
            raise UsageError(f"--channel is not used by dialect {dialect}")
        block["channel"] = channel
    for key, on in (("auto_off", auto_off), ("auto_on", auto_on)):
        if on:
            if key not in kind.keys:
                raise UsageError(f"--{key.replace('_', '-')} is not used by dialect {dialect} "
                                 "(it times pulses per command)")
            block[key] = True
    return block


def register(sim_app: typer.Typer) -> None:
    """Add ``stove sim mqtt`` to the ``stove sim`` group (its help lists the dialects
    registered now)."""
    names = list(REGISTRY)

    @sim_app.command()
    def mqtt(
        # Help built from REGISTRY now: a default, as an annotation is evaluated later
        # in the module's globals (``from __future__ import annotations``).
        dialect: str = typer.Option(names[0], help=f"{listed(names)}."),
        broker: Annotated[str, typer.Option(help="HOST:PORT of the MQTT broker.")]
            = "127.0.0.1:1883",
        topic: Annotated[str, typer.Option(
            help="The device's topic as its dialect names it (Tasmota topic, Shelly id, "
                 "Zigbee2MQTT friendly name...); generic: the base of its topics.")]
            = "gasstove-sim",
        channel: int | None = typer.Option(
            None, help=f"Relay number ({listed(reading('channel'))})."),
        wiring: Annotated[Wiring, typer.Option(help="How the relay sits in the loop.")]
            = Wiring.NORMALLY_CLOSED,
        auto_off: bool = typer.Option(
            False, help=f"{listed(reading('auto_off'))}: the device releases by itself."),
        auto_on: bool = typer.Option(
            False, help=f"{listed(reading('auto_on'))}: the device re-energises by itself."),
        auto_seconds: Annotated[float, typer.Option(
            min=0.1, max=3600, help="Seconds of that auto_off/auto_on setting.")] = 3.0,
        ignore_commands: Annotated[bool, typer.Option(
            help="Hear switch commands but do nothing (a stuck relay).")] = False,
        lit: Annotated[bool, typer.Option("--lit", help="Light the burner at start.")] = False,
    ) -> None:
        """A relay speaking a real firmware's MQTT dialect, wired to a simulated burner."""
        import yaml
        from pydantic import ValidationError

        from ..domain.mqtt_config import MqttRelayConfig
        from ..sim.burner import Burner
        from ..sim.mqtt_relays import sim_for
        from .sim_burner import light, watch

        host, port = _broker(broker)
        block = relay_block(dialect, topic, channel, auto_off, auto_on)
        try:
            config = MqttRelayConfig.model_validate(block)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "relay"
            raise UsageError(f"{key}: {first['msg'].removeprefix('Value error, ')}") from None
        burner = Burner("burner")
        sim = sim_for(config, burner, wiring, host=host, port=port, auto_seconds=auto_seconds,
                      ignore_commands=ignore_commands,
                      on_change=lambda what: print(what, flush=True))
        try:
            sim.start()
        except (OSError, TimeoutError) as err:
            raise UsageError(f"cannot reach the MQTT broker at {host}:{port}: {err}") from None

        async def serve() -> None:
            print(f"simulated {dialect} relay ({wiring.value}) on {host}:{port}; its relay "
                  "block for the configuration:", flush=True)
            print(yaml.safe_dump({"relay": block}, sort_keys=False).rstrip(), flush=True)
            print("Ctrl-C stops", flush=True)
            if lit:
                await asyncio.to_thread(light, burner)
            await watch(burner)

        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
