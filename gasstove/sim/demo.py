"""``stove demo``: the whole loop on simulated hardware, with nothing to configure.

Two burners are lit on simulated Xiaomi relays (real miio over UDP on
127.0.0.x), one with each wiring; ``left`` is shut off through exactly the
code path ``stove off`` uses, and the burner model shows the flame going
out, the loop closing again, and the flame staying out until a hand relights it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from ..domain.config import BurnerConfig, Config, MiioRelayConfig, StoveConfig
from ..domain.plan import Wiring
from .burner import Burner, BurnerState
from .miio_device import MiioSimDevice, MiioSimSettings, free_loopback_host, serve_in_thread

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
        stove = Stove(config.stove, build_relays(config))
        task = asyncio.create_task(stove.shut_off([burner]))
        while not task.done():
            await asyncio.sleep(ROW_S)
            show()
        await stove.close()
        (outcome,) = task.result()
        print_(f"   {outcome.message}")
        return outcome.ok

    return asyncio.run(run())


def run_demo(cut_seconds: float = 3.0, print_: Callable[[str], None] = print) -> int:
    token = secrets.token_hex(16)
    left_host = free_loopback_host(2)
    right_host = free_loopback_host(int(left_host.rsplit(".", 1)[1]) + 1)
    left, right = Burner("left"), Burner("right")
    devices = (
        MiioSimDevice(MiioSimSettings(left_host, token, protocol="miot"), left),
        MiioSimDevice(MiioSimSettings(right_host, token, protocol="legacy",
                                      wiring=Wiring.NORMALLY_OPEN, energised=True), right),
    )
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

    with serve_in_thread(*devices):
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
    mqtt_ok = _mqtt_part(cut_seconds, print_)
    ok = confirmed and stayed_out and relit and mqtt_ok
    print_("")
    print_("demo " + ("OK: cut confirmed by the relay, flame out, stove usable again"
                      if ok else "FAILED: see above"))
    return 0 if ok else 1


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
