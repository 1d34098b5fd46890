"""The Home Assistant integration on HA's own test harness: press -> contact, timers, failures.

Run with the HA venv's Python (``bash scripts/test`` builds it):
``.venv-ha/bin/python bench/bench_ha.py [--quick]``; ``bench/run.py`` runs it
when ``.venv-ha`` exists.

Home Assistant is the harness's own instance
(``pytest_homeassistant_custom_component.common.async_test_home_assistant``,
what its ``hass`` fixture runs), with gasstove loaded as a custom integration
from this checkout and Home Assistant's own ``mqtt`` integration on a private
mosquitto. The relays are the library's simulators in this process: miio
devices on real UDP (127.0.0.x) and a Tasmota relay on the broker, each wired
to a burner model. Every clock stops at the simulated relay's coil change (its
``on_change``), not at our own command, echo or the service call's return.

1. ``button.press`` on ``button.kitchen_<burner>_shut_off_now`` (as a user's
   tap) until the relay's contact opens, miio and Tasmota, alternated round by
   round with the floor of each wire: one bare miio request/reply to the same
   simulator (python-miio's own ``MiIOProtocol.send``, handshake done before)
   and one bare MQTT publish -> subscriber hop on the same broker; and the
   Tasmota's own floor: the very messages our cut sends (the dialect's
   ``switch``), published by a bare paho client, until its contact opens. The
   simulated firmware runs a command on its next loop pass (``Sleep 50``) and a
   Backlog's commands 200 ms apart (``SetOption34``), as Tasmota does, so that
   floor is ~250 ms before any software of ours. The burner is relit by hand
   between presses. The pulse's hold (``cut_seconds``) is not
   waited for in Home Assistant (``async_pulse_wait``, as the tests shorten it):
   it comes after the contact opened, and a Tasmota's own PulseTime still ends
   its pulse on the device.
2. Timers set through ``gasstove.shut_off`` with a delay of 1-3 s, fired on
   Home Assistant's real clock: contact open - due (the due instant the service
   answers); beside it a bare Home Assistant timer's own lateness, in the same rounds.
3. How long a failure takes to show, against the stove's deadline (the config
   flow's default, 5 s): a miio relay that never answers (nothing on
   127.0.0.254), a miio relay that went silent (its Wi-Fi gone), and a Tasmota
   relay that lost power (the broker publishes its will, "Offline"): from the
   press to ``binary_sensor.<stove>_<burner>_shut_off_problem`` on, to
   ``sensor.<stove>_<burner>_last_shut_off`` "failed", and to the press's error.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import queue
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

ROOT = Path(__file__).resolve().parents[1]
# The integration's package is at the repository root (custom_components/, HACS's layout).
sys.path[:0] = [str(ROOT)]

from bench_mqtt import _client, percentile  # noqa: E402
from homeassistant import loader  # noqa: E402
from homeassistant.components import mqtt  # noqa: E402
from homeassistant.core import Event, EventStateChangedData, HomeAssistant  # noqa: E402
from homeassistant.exceptions import HomeAssistantError  # noqa: E402
from homeassistant.helpers import frame  # noqa: E402
from homeassistant.helpers.event import (  # noqa: E402
    async_track_point_in_utc_time,
    async_track_state_change_event,
)
from homeassistant.util import dt as dt_util  # noqa: E402
from miio.miioprotocol import MiIOProtocol  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)

from gasstove.domain.dialects import Tasmota  # noqa: E402
from gasstove.domain.mqtt_config import MqttRelayConfig  # noqa: E402
from gasstove.domain.plan import Wiring  # noqa: E402
from gasstove.sim.broker import Mosquitto  # noqa: E402
from gasstove.sim.burner import Burner  # noqa: E402
from gasstove.sim.miio_device import (  # noqa: E402
    MiioSimDevice,
    MiioSimSettings,
    free_loopback_host,
    serve_in_thread,
)
from gasstove.sim.mqtt_relays import TasmotaSim  # noqa: E402

TOKEN = "00112233445566778899aabbccddeeff"
DEAD_HOST = "127.0.0.254"  # nothing listens there: a relay that never answers
DEADLINE_S = 5.0  # the config flow's default (const.DEFAULT_DEADLINE)
DOMAIN = "gasstove"


@dataclass
class Relay:
    """A simulated relay's burner, and when its coil changed (perf_counter, wall clock)."""

    burner: Burner
    clock: list[float] = field(default_factory=lambda: [0.0])
    changes: list[tuple[float, float, str]] = field(default_factory=list)

    def changed(self, what: str) -> None:
        self.changes.append((time.perf_counter(), time.time(), what))

    def relight(self) -> None:
        """A hand pushes the knob in and holds it until the thermocouple is hot."""
        self.burner.push_and_turn()
        self.clock[0] += 5
        self.burner.release()

    def opened_after(self, start: float) -> tuple[float, float] | None:
        """When the contact first opened after ``start`` (normally closed: the coil energised)."""
        return next(((p, w) for p, w, what in self.changes
                     if p >= start and "energised" in what), None)


def _lit_relay() -> Relay:
    clock = [0.0]
    relay = Relay(Burner("left", clock=lambda: clock[0]), clock)
    relay.relight()
    return relay


def _miio(stack: ExitStack, hosts: list[str]) -> tuple[Relay, MiioSimDevice]:
    relay = _lit_relay()
    host = free_loopback_host(start=int(hosts[-1].rsplit(".", 1)[1]) + 1 if hosts else 2)
    hosts.append(host)
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, wiring=Wiring.NORMALLY_CLOSED),
                           relay.burner, on_change=relay.changed)
    stack.enter_context(serve_in_thread(device))
    return relay, device


def _tasmota_config(topic: str) -> MqttRelayConfig:
    return MqttRelayConfig.model_validate({"type": "mqtt", "dialect": "tasmota", "topic": topic})


def _tasmota(broker: Mosquitto, topic: str, relay: Relay) -> TasmotaSim:
    sim = TasmotaSim(_tasmota_config(topic), relay.burner, Wiring.NORMALLY_CLOSED,
                     host=broker.host, port=broker.port, on_change=relay.changed)
    sim.start()
    return sim


def _miio_burner(host: str) -> dict[str, Any]:
    return {"wiring": "normally_closed", "cut_seconds": 1,
            "relay": {"type": "miio", "host": host, "token": TOKEN, "protocol": "miot"}}


def _stats(values: list[float], unit: str = "ms") -> str:
    return (f"p50 {percentile(values, 0.5):6.1f} {unit}, p99 {percentile(values, 0.99):6.1f} {unit}, "
            f"max {max(values):6.1f} {unit} (n={len(values)})")


@contextmanager
def _harness_patches() -> Iterator[None]:
    """The pulse's hold is not waited for (it comes after the contact opened)."""
    async def no_wait(_seconds: float) -> None:
        return None

    from custom_components.gasstove import coordinator

    with patch.object(coordinator, "async_pulse_wait", no_wait):
        yield


class Watch:
    """When entities took a state, stamped in the event loop as Home Assistant wrote it."""

    def __init__(self, hass: HomeAssistant, entity_ids: list[str]) -> None:
        self.seen: list[tuple[float, str, str]] = []

        def changed(event: Event[EventStateChangedData]) -> None:
            if (new := event.data["new_state"]) is not None:
                self.seen.append((time.perf_counter(), event.data["entity_id"], new.state))

        self.unsub = async_track_state_change_event(hass, entity_ids, changed)

    def first(self, entity_id: str, state: str, after: float) -> float | None:
        return next((t for t, e, s in self.seen if e == entity_id and s == state and t >= after), None)


async def _press(hass: HomeAssistant, button: str) -> str | None:
    """Press a button as a user does; the error it raised, if any."""
    try:
        await hass.services.async_call("button", "press", {"entity_id": button}, blocking=True)
    except HomeAssistantError as err:
        return str(err)
    return None


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)


async def bench(presses: int, timers: int, failures: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack, _harness_patches():
        workdir = Path(tmp)
        (workdir / "configuration.yaml").write_text("{}\n")  # mqtt reads the YAML config
        broker = Mosquitto(workdir)
        broker.start()
        stack.callback(broker.stop)
        hosts: list[str] = []
        left, left_device = _miio(stack, hosts)
        timer_relays = [_miio(stack, hosts)[0] for _ in range(4)]
        silent, silent_device = _miio(stack, hosts)
        topic = f"stove-{secrets.token_hex(3)}"
        right = _lit_relay()
        sims = [_tasmota(broker, topic, right)]
        stack.callback(lambda: sims[-1].stop())
        pongs: queue.Queue[float] = queue.Queue()
        ping = f"bench-{secrets.token_hex(3)}/ping"
        pong = _client(broker, lambda _m: pongs.put(time.perf_counter()), ping)
        pub = _client(broker)
        for client in (pong, pub):
            stack.callback(client.disconnect)
            stack.callback(client.loop_stop)
        bare_miio = MiIOProtocol(left_device.settings.host, TOKEN, timeout=2)
        bare_miio.send_handshake()

        def miio_round_trip() -> float:
            start = time.perf_counter()
            bare_miio.send("get_properties", [{"did": "x", "siid": 2, "piid": 1}])
            return (time.perf_counter() - start) * 1000

        def mqtt_hop() -> float:
            start = time.perf_counter()
            pub.publish(ping, "x", qos=1)
            return (pongs.get(timeout=10) - start) * 1000

        tasmota = Tasmota.from_config(_tasmota_config(topic))

        def tasmota_floor() -> float:
            """Our cut's own messages from a bare client until the contact opens; then released."""
            start = time.perf_counter()
            for message in tasmota.switch(True, pulse_seconds=1):
                pub.publish(message.topic, message.payload, qos=1)
            while (opened := right.opened_after(start)) is None:
                if time.perf_counter() - start > 5:
                    raise TimeoutError("the Tasmota did not act on our cut's messages")
                time.sleep(0.001)
            for message in tasmota.switch(False):
                pub.publish(message.topic, message.payload, qos=1)
            return (opened[0] - start) * 1000

        async with async_test_home_assistant(config_dir=tmp) as hass:
            frame.async_setup(hass)
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/gasstove
            ha_mqtt = MockConfigEntry(domain="mqtt", data={"broker": broker.host, "port": broker.port,
                                                           "birth_message": {}})
            ha_mqtt.add_to_hass(hass)
            assert await hass.config_entries.async_setup(ha_mqtt.entry_id)
            await _until(lambda: mqtt.is_connected(hass), 10, "HA did not connect to mosquitto")
            burners = {"left": _miio_burner(left_device.settings.host),
                       "right": {"wiring": "normally_closed", "cut_seconds": 1,
                                 "relay": {"type": "mqtt", "dialect": "tasmota", "topic": topic,
                                           "channel": 1}},
                       "silent": _miio_burner(silent_device.settings.host),
                       **{f"t{i}": _miio_burner(hosts[1 + i]) for i in range(len(timer_relays))}}
            entries = [MockConfigEntry(domain=DOMAIN, title=title, unique_id=title.casefold(),
                                       data={"name": title, "deadline": DEADLINE_S, "burners": b})
                       for title, b in (("Kitchen", burners),
                                        ("Dead", {"left": _miio_burner(DEAD_HOST)}))]
            for entry in entries:
                entry.add_to_hass(hass)
            # The dead relay's first read costs the whole deadline: set up meanwhile (a task
            # of ours: async_block_till_done would wait for one of Home Assistant's).
            dead_setup = asyncio.create_task(hass.config_entries.async_setup(entries[1].entry_id))
            assert await hass.config_entries.async_setup(entries[0].entry_id)
            await hass.async_block_till_done()
            try:
                rows += await _presses(hass, presses, left, right, miio_round_trip, mqtt_hop,
                                       tasmota_floor)
                rows += await _timers(hass, timers, timer_relays)
                assert await dead_setup
                rows += await _failures(hass, failures, broker, topic, right, sims, silent,
                                        silent_device)
            finally:
                for entry in [*entries, ha_mqtt]:
                    await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
    return rows


async def _presses(hass: HomeAssistant, n: int, left: Relay, right: Relay,
                   miio_round_trip: Callable[[], float],
                   mqtt_hop: Callable[[], float],
                   tasmota_floor: Callable[[], float]) -> list[tuple[str, str]]:
    times: dict[str, list[float]] = {"miio": [], "mqtt": [], "bare miio": [], "bare mqtt": [],
                                     "floor": []}
    flame_out = {"miio": 0, "mqtt": 0}
    # warm-up: Home Assistant subscribes the Tasmota's topics on the first command
    for relay, name in ((left, "left"), (right, "right")):
        assert await _press(hass, f"button.kitchen_{name}_shut_off_now") is None
        await _until(lambda r=relay: r.burner.state().loop_closed, 5, "not restored")
        relay.relight()
    for _ in range(n):
        for kind, relay, name, bare in (("miio", left, "left", miio_round_trip),
                                        ("mqtt", right, "right", mqtt_hop)):
            times[f"bare {kind}"].append(await asyncio.to_thread(bare))
            if kind == "mqtt":
                times["floor"].append(await asyncio.to_thread(tasmota_floor))
                await _until(lambda r=relay: r.burner.state().loop_closed, 5, "floor: not released")
                relay.relight()
            start = time.perf_counter()
            error = await _press(hass, f"button.kitchen_{name}_shut_off_now")
            if error is not None:
                raise RuntimeError(f"{kind} press failed: {error}")
            opened = relay.opened_after(start)
            if opened is None:
                raise RuntimeError(f"{kind}: the press returned but the contact never opened")
            times[kind].append((opened[0] - start) * 1000)
            flame_out[kind] += not relay.burner.lit
            # The Tasmota's own PulseTime closes the loop again after cut_seconds.
            await _until(lambda r=relay: r.burner.state().loop_closed, 5, f"{kind}: not restored")
            relay.relight()
    def against(floor: list[float], kind: str) -> str:
        return (f"{_stats(floor)}, ratio p50 {percentile(times[kind], 0.5) / percentile(floor, 0.5):.1f}"
                f" p99 {percentile(times[kind], 0.99) / percentile(floor, 0.99):.1f}")

    return [("HA button.press -> miio contact open",
             f"{_stats(times['miio'])}, flame out {flame_out['miio']}/{n}"),
            ("  bare miio request/reply (same simulator)", against(times["bare miio"], "miio")),
            ("HA button.press -> MQTT tasmota contact open",
             f"{_stats(times['mqtt'])}, flame out {flame_out['mqtt']}/{n}"),
            ("  bare MQTT publish -> subscriber (1 hop)", against(times["bare mqtt"], "mqtt")),
            ("  our cut's messages, bare client -> contact", against(times["floor"], "mqtt"))]


async def _timers(hass: HomeAssistant, n: int, relays: list[Relay]) -> list[tuple[str, str]]:
    errors: list[float] = []
    bare: list[float] = []  # Home Assistant's own timer, due 0.25 s after our last one
    flame_out = rounds = 0
    while len(errors) < n:
        rounds += 1
        batch = list(enumerate(relays))[: n - len(errors)]
        due: dict[int, datetime] = {}
        bare_due = dt_util.utcnow() + timedelta(seconds=1.25 + len(batch) / 2)
        async_track_point_in_utc_time(
            hass, lambda _now, d=bare_due: bare.append((time.time() - d.timestamp()) * 1000), bare_due)
        for i, _relay in batch:
            # staggered: 1.0, 1.5, 2.0, 2.5 s (never two due together)
            answer = await hass.services.async_call(
                DOMAIN, "shut_off", {"stove": "Kitchen", "burners": f"t{i}", "delay": 1 + i / 2},
                blocking=True, return_response=True)
            assert answer is not None
            text = str(answer["Kitchen"][f"t{i}"])  # type: ignore[index]
            due[i] = datetime.fromisoformat(text.removeprefix("scheduled at "))
        start = time.perf_counter()

        def done(i: int, relay: Relay, start: float = start) -> bool:
            """Fired, confirmed, restored, and no timer left on the burner."""
            state = hass.states.get
            return (relay.opened_after(start) is not None and relay.burner.state().loop_closed
                    and state(f"sensor.kitchen_t{i}_last_shut_off").state == "confirmed"
                    and state(f"sensor.kitchen_t{i}_scheduled_shut_off").state == "unknown")

        for i, relay in batch:
            await _until(functools.partial(done, i, relay), 10, f"timer t{i} did not fire")
            opened = relay.opened_after(start)
            assert opened is not None
            errors.append((opened[1] - due[i].timestamp()) * 1000)
            flame_out += not relay.burner.lit
            relay.relight()
        await _until(lambda r=rounds: len(bare) == r, 5, "HA's own timer did not fire")
    return [("HA timer (1-3 s, real clock): contact open - due",
             f"{_stats(errors)}, min {min(errors):.1f} ms, flame out {flame_out}/{n}"),
            ("  bare HA timer (async_track_point_in_utc_time)", f"{_stats(bare)}, callback - due")]


async def _failures(hass: HomeAssistant, n: int, broker: Mosquitto, topic: str, right: Relay,
                    sims: list[TasmotaSim], silent: Relay,
                    silent_device: MiioSimDevice) -> list[tuple[str, str]]:
    shown: dict[str, dict[str, list[float]]] = {}

    async def fail_once(kind: str, stove: str, burner: str) -> None:
        problem = f"binary_sensor.{stove}_{burner}_shut_off_problem"
        last = f"sensor.{stove}_{burner}_last_shut_off"
        watch = Watch(hass, [problem, last])
        start = time.perf_counter()
        error = await _press(hass, f"button.{stove}_{burner}_shut_off_now")
        raised = time.perf_counter()
        if error is None:
            raise RuntimeError(f"{kind}: the press did not fail")
        await _until(lambda: watch.first(last, "failed", start) is not None, 5, f"{kind}: not failed")
        watch.unsub()
        got = shown.setdefault(kind, {"problem": [], "failed": [], "error": []})
        if (on := watch.first(problem, "on", start)) is not None:
            got["problem"].append(on - start)
        got["failed"].append((watch.first(last, "failed", start) or 0) - start)
        got["error"].append(raised - start)

    async def confirmed(stove: str, burner: str, relay: Relay) -> None:
        """The relay is back: a confirmed cut clears the problem; the burner is relit."""
        assert await _press(hass, f"button.{stove}_{burner}_shut_off_now") is None
        await _until(lambda: relay.burner.state().loop_closed, 5, "not restored")
        relay.relight()

    for _ in range(n):
        silent_device.settings.loss = 1.0  # its Wi-Fi is gone
        # Two stoves, both waiting out the deadline: at the same time.
        await asyncio.gather(fail_once("miio relay that never answers (127.0.0.254)", "dead", "left"),
                             fail_once("miio relay gone silent (Wi-Fi lost)", "kitchen", "silent"))
        silent_device.settings.loss = 0.0
        await confirmed("kitchen", "silent", silent)
        await asyncio.to_thread(sims[-1].kill)  # power lost: the broker publishes its will
        await asyncio.sleep(0.3)
        await fail_once("MQTT tasmota relay lost power (LWT Offline)", "kitchen", "right")
        right.relight()  # power back: the coil dropped, the loop is closed
        sims.append(await asyncio.to_thread(_tasmota, broker, topic, right))
        await asyncio.sleep(0.3)
        await confirmed("kitchen", "right", right)
    rows = []
    for kind, got in shown.items():
        def s(values: list[float]) -> str:
            if not values:
                return "not seen"
            if max(values) < 1:
                return (f"p50 {percentile(values, 0.5) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
                        f"(n={len(values)})")
            return f"p50 {percentile(values, 0.5):.2f} s, max {max(values):.2f} s (n={len(values)})"
        rows.append((f"failure shown: {kind}",
                     f"problem sensor on {s(got['problem'])}; last shut-off 'failed' "
                     f"{s(got['failed'])}; press raised {s(got['error'])}; deadline {DEADLINE_S:.0f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer presses, timers and failures")
    parser.add_argument("--rows", action="store_true", help="name<TAB>value lines (for bench/run.py)")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = asyncio.run(bench(*((8, 4, 1) if args.quick else (50, 20, 3))))
    rows.append(("Home Assistant bench, whole run", f"{time.perf_counter() - start:.0f} s"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name}\t{value}" if args.rows else f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
