"""``stove demo``: the whole loop on simulated hardware, with nothing to configure.

Two burners are lit on simulated Xiaomi relays (real miio over UDP on
127.0.0.x), one with each wiring; ``left`` is shut off through exactly the
code path ``stove off`` uses, and the burner model shows the flame going
out, the loop closing again, and the flame staying out until a hand relights it.
With mosquitto installed, the same on a simulated Tasmota relay, and the stove
guard (issue 16): a warning, a snooze and a cut when nobody is in the kitchen.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..domain.config import BurnerConfig, Config, MiioRelayConfig, StoveConfig
from ..domain.plan import Wiring
from ..domain.timers import show_times
from .burner import Burner, BurnerState
from .miio_device import MiioSimDevice, MiioSimSettings, serve_in_thread

HOLD_KNOB_S = 2.5
ROW_S = 0.5


def _row(t: float, left: BurnerState, right: BurnerState) -> str:
    return f"{t:5.1f}s  {left.describe()}  |  {right.describe()}"


def _shut_off(config: Config, burner: str, show: Callable[[], None],
              print_: Callable[[str], None]) -> bool:
    """`stove off BURNER` through the real Stove service, showing the burner as it goes."""
    from ..adapters.relays import build_relays
    from ..control import Stove

    print_(f"$ stove off {burner}")

    async def run() -> bool:
        async with Stove(config.stove, build_relays(config)) as stove:
            task = asyncio.create_task(stove.shut_off([burner]))
            while not task.done():
                await asyncio.sleep(ROW_S)
                show()
        (outcome,) = task.result()
        print_(f"   {outcome.message}")
        return outcome.ok

    return asyncio.run(run())


def run_demo(cut_seconds: float = 3.0, print_: Callable[[str], None] = print) -> int:
    token = secrets.token_hex(16)
    left, right = Burner("left"), Burner("right")
    devices = (
        MiioSimDevice(MiioSimSettings("", token, protocol="miot"), left),
        MiioSimDevice(MiioSimSettings("", token, protocol="legacy",
                                      wiring=Wiring.NORMALLY_OPEN, energised=True), right),
    )
    with serve_in_thread(*devices):
        left_host, right_host = (d.settings.host for d in devices)
        miio_ok = _miio_part(cut_seconds, print_, token, left_host, right_host, left, right)
    mqtt_ok = _mqtt_part(cut_seconds, print_)
    ok = miio_ok and mqtt_ok and _guard_part(print_)
    print_("")
    print_("demo " + ("OK: cut confirmed by the relay, flame out, stove usable again"
                      if ok else "FAILED: see above"))
    return 0 if ok else 1


def _miio_part(cut_seconds: float, print_: Callable[[str], None], token: str,
               left_host: str, right_host: str, left: Burner, right: Burner) -> bool:
    config = Config(stove=StoveConfig(name="demo", burners={
        "left": BurnerConfig(
            aliases=["左边"], cut_seconds=cut_seconds,
            relay=MiioRelayConfig(type="miio", host=left_host, token=token),  # type: ignore[arg-type]
        ),
        "right": BurnerConfig(
            aliases=["右边"], wiring=Wiring.NORMALLY_OPEN, cut_seconds=cut_seconds,
            relay=MiioRelayConfig(type="miio", host=right_host, token=token,  # type: ignore[arg-type]
                                  protocol="legacy"),
        ),
    }))
    start = time.monotonic()

    def show() -> None:
        print_(_row(time.monotonic() - start, left.state(), right.state()))

    def pause(seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left_s := end - time.monotonic()) > 0:
            time.sleep(min(ROW_S, left_s))
            show()

    print_("gasstove demo: a simulated stove, relays speaking miio over UDP")
    print_(f"  left : MIoT relay at {left_host}, normally_closed wiring (energise = cut)")
    print_(f"  right: legacy plug at {right_host}, normally_open wiring (release = cut)")
    print_("")
    print_("           left                                             |  right")
    show()
    print_("-- lighting both burners: knob pushed in and turned, spark, hold until the "
           "thermocouple is warm")
    left.push_and_turn()
    right.push_and_turn()
    pause(HOLD_KNOB_S)
    left.release()
    right.release()
    print_("-- knobs released: the thermocouple current now holds the safety valves open")
    pause(1.0)
    confirmed = _shut_off(config, "left", show, print_)
    pause(1.0)
    after = left.state()
    stayed_out = not after.flame and after.loop_closed
    print_("-- the loop is closed again, yet the left flame stays out: the valve's magnet "
           "cannot pull in by itself; the right burner burns on")
    print_("-- relighting left by hand (push, turn, hold)")
    left.push_and_turn()
    pause(HOLD_KNOB_S)
    left.release()
    pause(ROW_S)
    relit = left.lit and right.lit
    left.turn_off()
    right.turn_off()
    return confirmed and stayed_out and relit


def _mqtt_part(cut_seconds: float, print_: Callable[[str], None]) -> bool:
    """The same shut-off on a simulated Tasmota relay over a private mosquitto, if installed."""
    import tempfile
    from pathlib import Path

    from .broker import Mosquitto, mosquitto_installed

    print_("")
    if not mosquitto_installed():
        print_("(install mosquitto to see the same on an MQTT relay: apt-get install mosquitto)")
        return True
    from ..domain.mqtt_config import MqttBrokerConfig, MqttRelayConfig
    from .mqtt_relays import sim_for

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        broker.start()
        try:
            relay = MqttRelayConfig(type="mqtt", dialect="tasmota", topic="demo_back")
            back = Burner("back")
            sim = sim_for(relay, back, Wiring.NORMALLY_CLOSED, host=broker.host, port=broker.port)
            sim.start()
            config = Config(
                stove=StoveConfig(name="demo", burners={
                    "back": BurnerConfig(cut_seconds=cut_seconds, relay=relay)}),
                mqtt=MqttBrokerConfig(host=broker.host, port=broker.port),
            )
            print_(f"-- the same on MQTT: a simulated Tasmota relay (topic demo_back) on a private "
                   f"mosquitto at {broker.host}:{broker.port}; the firmware's PulseTime ends the cut "
                   "even if gasstove died mid-pulse")
            start = time.monotonic()

            def show() -> None:
                print_(f"{time.monotonic() - start:5.1f}s  back: {back.state().describe()}")

            back.push_and_turn()
            end = time.monotonic() + HOLD_KNOB_S
            while time.monotonic() < end:
                time.sleep(ROW_S)
                show()
            back.release()
            confirmed = _shut_off(config, "back", show, print_)
            after = back.state()
            sim.stop()
        finally:
            broker.stop()
    return confirmed and not after.flame and after.loop_closed


#: The guard part's clock runs this many times faster: ten minutes in ten seconds.
SPEED = 60.0


class _FastClock:
    """The daemon's clock (see gasstove.daemon.clock), ``speed`` times faster: the guard
    counts an empty kitchen's ten minutes in ten seconds; the flame's physics keeps
    real time."""

    def __init__(self, speed: float) -> None:
        self.speed, self._mono, self._wall = speed, time.monotonic(), time.time()

    def monotonic(self) -> float:
        return self._mono + (time.monotonic() - self._mono) * self.speed

    def wall(self) -> float:
        return self._wall + (time.monotonic() - self._mono) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


def _guard_part(print_: Callable[[str], None]) -> bool:
    """`stove serve` with a presence sensor and a stove-top probe (simulated Zigbee2MQTT) on
    a private mosquitto: a warning, a snooze, then the cut for an empty kitchen."""
    import logging
    import tempfile
    from pathlib import Path

    from .broker import Mosquitto, mosquitto_installed

    if not mosquitto_installed():
        return True
    from ..daemon.run import serve
    from ..domain.commands import Command
    from ..domain.daemon_config import DaemonConfig
    from ..domain.guard import GuardConfig
    from ..domain.mqtt_config import MqttBrokerConfig
    from .kitchen import KitchenSensors

    clock = _FastClock(SPEED)
    front = Burner("front")
    token = secrets.token_hex(16)
    device = MiioSimDevice(MiioSimSettings("", token, protocol="miot"), front)
    log = logging.getLogger("gasstove")

    async def run(broker: Mosquitto, sensors: KitchenSensors, tmp: Path) -> bool:
        config = Config(
            stove=StoveConfig(name="demo", burners={"front": BurnerConfig(
                relay=MiioRelayConfig(type="miio", host=device.settings.host,
                                      token=token),  # type: ignore[arg-type]
                flame=sensors.flame_config(), max_burn=3600)}),  # type: ignore[arg-type]
            mqtt=MqttBrokerConfig(host=broker.host, port=broker.port),
            daemon=DaemonConfig(database=tmp / "g.db", socket=tmp / "d.sock"),
            guard=GuardConfig.model_validate({**sensors.guard_config(), "hazards": []}),
        )
        start = clock.monotonic()

        def say(text: str) -> None:
            print_(f"{(clock.monotonic() - start) / 60:5.1f} min  {text}")

        warnings: asyncio.Queue[str] = asyncio.Queue()
        notes: asyncio.Queue[str] = asyncio.Queue()
        stop, ready = asyncio.Event(), asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(config, clock=clock, stop=stop, ready=ready.set_result))
        try:
            daemon = await asyncio.wait_for(ready, 10)
            def warned(warning: dict[str, Any]) -> None:
                if warning["active"]:
                    warnings.put_nowait(warning["message"])

            daemon.guard.warning_listeners.append(warned)
            daemon.recorder.note_listeners.append(lambda n: notes.put_nowait(n["message"]))
            await asyncio.sleep(0.5)  # (subscribed to the sensors)
            front.push_and_turn()
            sensors.motion()
            say("someone lights the front burner (the motion sensor sees them)")
            await asyncio.sleep(HOLD_KNOB_S)
            front.release()
            for _ in range(4):  # the probe reports every half minute; the pan heats up
                await asyncio.sleep(0.5)
                sensors.report_temperature()
            say(f"stove top {sensors.temperature():.0f} °C: the guard knows it is lit")
            sensors.no_motion()
            say("they leave the kitchen; the motion sensor says nobody")
            say(f"WARNING: {await asyncio.wait_for(warnings.get(), 30)}")
            (result,) = await daemon.handle(Command("snooze", ("front",), 300, source="demo"))
            # (the daemon's instants, shown as the CLI shows them: local time and offset)
            shown = show_times(result["message"], now=datetime.now().astimezone())
            say(f"$ stove snooze front 5m  ->  {shown}")
            say(f"WARNING: {await asyncio.wait_for(warnings.get(), 30)}")
            say("nobody answers it")
            say(f"NOTE: {await asyncio.wait_for(notes.get(), 30)}")
            return not front.lit
        except TimeoutError:
            print_("   the guard did not act in time")
            return False
        finally:
            stop.set()
            await task

    print_("")
    print_("-- the stove guard: a presence sensor and a stove-top probe (simulated "
           f"Zigbee2MQTT); the guard's clock runs {SPEED:.0f} times faster")
    level = log.level
    log.setLevel(logging.ERROR)  # the demo says it in its own words
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(device):
        broker = Mosquitto(Path(tmp))
        broker.start()
        sensors = KitchenSensors(front, host=broker.host, port=broker.port, clock=clock.monotonic,
                                 occupancy_timeout=3600)
        try:
            sensors.start()
            return asyncio.run(run(broker, sensors, Path(tmp)))
        finally:
            sensors.stop()
            broker.stop()
            log.setLevel(level)
