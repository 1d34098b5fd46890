"""The stove guard's sensors, simulated on a real broker the way Zigbee2MQTT publishes them:
a presence (occupancy) sensor, a smoke alarm and a stove-top temperature probe.

As unkind as the real thing (Zigbee2MQTT docs, "MQTT topics and messages" and
"Device availability"; its device pages for Aqara RTCGQ11LM and Heiman HS1SA):

- a device publishes its whole state as JSON on ``zigbee2mqtt/<name>``, not retained
  unless the user set the device's ``retain`` option (``retain=True`` here);
- an occupancy sensor says ``occupancy: true`` on motion and ``false`` only after its
  ``occupancy_timeout`` (90 s by default) without motion;
- availability is ``zigbee2mqtt/<name>/availability`` = ``{"state": "online"}``,
  retained, published by the bridge: when the bridge itself dies, its LWT says
  ``zigbee2mqtt/bridge/state`` = ``{"state": "offline"}`` and every device's
  availability stays "online" (docs/design.md §5);
- a temperature probe reports every ``period`` seconds, not on each change.

The stove-top temperature follows the simulated burner: it rises towards
``FLAME_C`` while the flame burns and falls back towards the room's when it is
out, so a probe lags the flame by tens of seconds either way, as a real one does.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .burner import Burner

#: What a pan on a lit burner brings the stove top to, the room, and how fast.
FLAME_C, ROOM_C = 180.0, 22.0
HEAT_TAU_S, COOL_TAU_S = 60.0, 300.0
#: Zigbee2MQTT's default occupancy_timeout for motion sensors.
OCCUPANCY_TIMEOUT_S = 90.0


class KitchenSensors:
    """One Zigbee2MQTT-like bridge with three devices: ``presence``, ``smoke``, ``stovetop``."""

    def __init__(self, burner: Burner | None, *, host: str = "127.0.0.1", port: int = 1883,
                 base: str = "zigbee2mqtt", clock: Callable[[], float] = time.monotonic,
                 retain: bool = False, occupancy_timeout: float = OCCUPANCY_TIMEOUT_S) -> None:
        self.burner = burner
        self.host, self.port, self.base = host, port, base
        self.clock = clock
        self.retain = retain
        self.occupancy_timeout = occupancy_timeout
        self._client: paho.Client | None = None
        self._connected = threading.Event()
        self._lock = threading.RLock()
        self._motion_timer: threading.Timer | None = None
        self._temp_c = ROOM_C
        self._temp_at = clock()
        self.occupancy = False
        self.smoke = False

    # -- topics (what a user writes in guard: and flame:) ------------------------------
    def topic(self, device: str) -> str:
        return f"{self.base}/{device}"

    def availability(self, device: str) -> str:
        return f"{self.base}/{device}/availability"

    @property
    def bridge_state(self) -> str:
        return f"{self.base}/bridge/state"

    def guard_config(self) -> dict[str, Any]:
        """The ``guard:`` block for these devices."""
        return {
            "presence": {"topic": self.topic("presence"), "json_path": "occupancy",
                         "present": "true", "away": "false"},
            "hazards": [{"topic": self.topic("smoke"), "json_path": "smoke", "kind": "smoke",
                         "availability": [self.availability("smoke"), self.bridge_state]}],
        }

    def flame_config(self, lit_above: float = 60, out_below: float = 45) -> dict[str, Any]:
        return {"topic": self.topic("stovetop"), "json_path": "temperature",
                "lit_above": lit_above, "out_below": out_below}

    # -- life cycle ----------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"sim-z2m-{secrets.token_hex(3)}")
        client.will_set(self.bridge_state, json.dumps({"state": "offline"}), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self._connected.clear()
        self._client = client
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError("simulated Zigbee2MQTT sensors could not connect")

    def stop(self) -> None:
        if self._motion_timer is not None:
            self._motion_timer.cancel()
        client, self._client = self._client, None
        if client is not None:
            client.publish(self.bridge_state, json.dumps({"state": "offline"}), qos=1,
                           retain=True).wait_for_publish(2)
            client.disconnect()
            client.loop_stop()

    def kill(self) -> None:
        """The bridge dies: the broker publishes its LWT; devices' availability stays online."""
        if self._motion_timer is not None:
            self._motion_timer.cancel()
        client, self._client = self._client, None
        if client is not None:
            client.loop_stop()
            if (sock := client.socket()) is not None:
                sock.close()

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        online = json.dumps({"state": "online"})
        client.publish(self.bridge_state, online, qos=1, retain=True)
        for device in ("presence", "smoke", "stovetop"):
            client.publish(self.availability(device), online, qos=1, retain=True)
        self._connected.set()

    # -- what happens in the kitchen ------------------------------------------------
    def motion(self) -> None:
        """Someone moves: occupancy now, cleared ``occupancy_timeout`` after the last motion."""
        with self._lock:
            self.occupancy = True
            self._publish("presence", {"occupancy": True})
            if self._motion_timer is not None:
                self._motion_timer.cancel()
            self._motion_timer = threading.Timer(self.occupancy_timeout, self.no_motion)
            self._motion_timer.daemon = True
            self._motion_timer.start()

    def no_motion(self) -> None:
        """The sensor's occupancy timeout ran out (tests call it instead of waiting)."""
        with self._lock:
            if self._motion_timer is not None:
                self._motion_timer.cancel()
            self.occupancy = False
            self._publish("presence", {"occupancy": False})

    def set_smoke(self, smoke: bool) -> None:
        with self._lock:
            self.smoke = smoke
            self._publish("smoke", {"smoke": smoke, "battery_low": False, "tamper": False})

    def device_offline(self, device: str) -> None:
        """The bridge lost the device (flat battery): only its availability says so."""
        if self._client is not None:
            self._client.publish(self.availability(device), json.dumps({"state": "offline"}),
                                 qos=1, retain=True).wait_for_publish(2)

    def temperature(self) -> float:
        """The stove top now, from the burner's flame since the last look."""
        with self._lock:
            now = self.clock()
            dt, self._temp_at = max(0.0, now - self._temp_at), now
            lit = self.burner is not None and self.burner.lit
            target, tau = (FLAME_C, HEAT_TAU_S) if lit else (ROOM_C, COOL_TAU_S)
            self._temp_c = target + (self._temp_c - target) * math.exp(-dt / tau)
            return self._temp_c

    def report_temperature(self) -> None:
        """One periodic report of the probe (a loop calls it every ``period`` seconds)."""
        self._publish("stovetop", {"temperature": round(self.temperature(), 1),
                                   "battery": 87, "linkquality": 120})

    def _publish(self, device: str, state: dict[str, Any]) -> None:
        if self._client is not None:
            self._client.publish(self.topic(device), json.dumps(state), qos=1,
                                 retain=self.retain).wait_for_publish(2)
