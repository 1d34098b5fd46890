"""Simulated MQTT relays, one per firmware, on a real broker, wired into a burner model.

Each behaves like its firmware as far as gasstove can tell: it subscribes to
its command topics, publishes its own state reports, announces itself with a
retained online message and leaves a retained offline will, and times pulses
the way the firmware does (Tasmota PulseTime and Backlog/Delay, Shelly Gen2
``toggle_after``, Zigbee2MQTT ``on_time`` with its optimistic echo, Shelly
Gen1 ``auto_off``/``auto_on`` settings, an ESPHome ``on_turn_on`` delay).
They are as unkind as the firmware: Tasmota runs a command on its next main
loop pass (``Sleep 50``) and a Backlog's commands ``SetOption34`` (200 ms)
apart, and sends a ``tele/STATE`` snapshot every TelePeriod; Shelly Gen1
republishes its relay state every ``mqtt_update_period``; ESPHome says nothing
when told to switch to the state it already has; Zigbee2MQTT's will is the
bridge's, so its devices stay "online" when it dies.
Topic names come from the same dialect objects the real adapter uses, built
from the same configuration block a user writes.

``ignore_commands`` makes a relay that hears switch commands but does not act
(a stuck contact, a firmware that lost its mind): it still answers state
requests truthfully, and Zigbee2MQTT still echoes optimistically, so only a
confirmation read from the device catches it. Timers go through ``schedule``
so a caller can run them on its own clock.
"""

from __future__ import annotations

import collections
import functools
import heapq
import json
import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ..adapters.mqtt import Client
from ..domain.dialects import Dialect, EspHome, Generic, Shelly, ShellyRpc, Tasmota, Zigbee2Mqtt
from ..domain.dialects.tasmota import pulse_seconds
from ..domain.mqtt_config import MqttRelayConfig
from ..domain.plan import Wiring
from .burner import Burner

_LOG = logging.getLogger(__name__)

Cancel = Callable[[], None]
#: ``schedule(seconds, action)`` runs ``action`` later and returns a way to cancel it.
Schedule = Callable[[float, Callable[[], None]], Cancel]


def thread_timer(seconds: float, action: Callable[[], None]) -> Cancel:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer.cancel


class SimRelay(ABC):
    """The firmware-independent part: connection, LWT, the coil and the burner it drives."""

    #: The firmware's dialect: its name is the simulator's too (``SIMS``).
    kind: ClassVar[type[Dialect]]
    #: The firmware reports its state again when set to the state it already has.
    reports_unchanged: ClassVar[bool] = True
    #: The QoS of the firmware's own publishes and of its command subscription.
    qos: ClassVar[int] = 1

    def __init__(
        self,
        config: MqttRelayConfig,
        burner: Burner,
        wiring: Wiring,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        energised: bool | None = None,
        ignore_commands: bool = False,
        auto_seconds: float = 3.0,
        schedule: Schedule = thread_timer,
        on_change: Callable[[str], None] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.config = config
        #: (user, password) of the device on a broker with an access list
        self.auth = auth
        self.burner = burner
        self.wiring = wiring
        self.host, self.port = host, port
        self.ignore_commands = ignore_commands
        #: Seconds of the firmware's auto_off/auto_on setting (Shelly Gen1, ESPHome, generic).
        self.auto_seconds = auto_seconds
        self._schedule = schedule
        self._on_change = on_change or (lambda _what: None)
        self._lock = threading.RLock()
        self._timers: dict[str, Cancel] = {}
        self._connected = threading.Event()
        self._client: paho.Client | None = None
        # Powered up at rest: the burner works (normally_open needs the coil on).
        self.energised = wiring is Wiring.NORMALLY_OPEN if energised is None else energised
        burner.set_relay(self.energised, wiring)

    @property
    def dialect_name(self) -> str:
        return self.kind.name

    # -- what a firmware defines -------------------------------------------------
    @abstractmethod
    def command_topics(self) -> list[str]: ...

    @abstractmethod
    def availability(self) -> tuple[str, str, str] | None:
        """(topic, online payload, offline payload), both retained; None if it has none."""

    def will(self) -> tuple[str, str] | None:
        """(topic, payload) the broker publishes, retained, when the connection dies."""
        avail = self.availability()
        return None if avail is None else (avail[0], avail[2])

    @abstractmethod
    def on_command(self, topic: str, payload: str) -> None: ...

    @abstractmethod
    def report(self) -> None:
        """Publish the relay's state the way the firmware does."""

    # -- life cycle ----------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> None:
        """Connect (raises OSError if the broker is not there) and announce."""
        client = Client(CallbackAPIVersion.VERSION2,
                        client_id=f"sim-{self.dialect_name}-{secrets.token_hex(3)}")
        if (will := self.will()) is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        if self.auth is not None:
            client.username_pw_set(*self.auth)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self._connected.clear()
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 2)  # a firmware retries quickly
        self._client = client
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError(f"simulated {self.dialect_name} relay could not connect")

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """A clean shut-down: say offline (retained, what the will says), disconnect."""
        self._cancel_all()
        client, self._client = self._client, None
        if client is None:
            return
        if (will := self.will()) is not None and self._connected.is_set():
            client.publish(will[0], will[1], qos=1, retain=True).wait_for_publish(2)
        client.disconnect()
        client.loop_stop()

    def kill(self) -> None:
        """Power loss: the coil drops, timers die, and the broker publishes the will."""
        self._cancel_all()
        client, self._client = self._client, None
        if client is not None:
            client.loop_stop()
            if (sock := client.socket()) is not None:
                sock.close()  # no DISCONNECT packet: the broker sends our LWT
        with self._lock:
            self.energised = False
            self.burner.set_relay(False, self.wiring)
        self._on_change("power lost: relay released, offline")

    # -- helpers for firmwares ---------------------------------------------------
    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        if self._client is not None:
            self._client.publish(topic, payload, qos=self.qos, retain=retain)

    def set(self, energised: bool, why: str, *, report: bool = True) -> None:
        """The coil changes (or is set again): the burner follows, the firmware reports."""
        with self._lock:
            changed = energised != self.energised
            self.energised = energised
            self.burner.set_relay(energised, self.wiring)
            if report and (changed or self.reports_unchanged):
                self.report()
        if changed:
            self._on_change(f"relay {'energised' if energised else 'released'} ({why})")

    def after(self, name: str, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``seconds`` (replacing the timer of that name)."""
        self.cancel(name)

        def fire() -> None:
            with self._lock:
                self._timers.pop(name, None)
                action()

        with self._lock:
            self._timers[name] = self._schedule(seconds, fire)

    def cancel(self, name: str) -> None:
        with self._lock:
            if (cancel := self._timers.pop(name, None)) is not None:
                cancel()

    def _cancel_all(self) -> None:
        with self._lock:
            for name in list(self._timers):
                self.cancel(name)

    # -- paho thread -------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        for topic in self.command_topics():
            client.subscribe(topic, qos=self.qos)
        if (avail := self.availability()) is not None:
            client.publish(avail[0], avail[1], qos=self.qos, retain=True)
        with self._lock:
            self.report()  # every firmware here announces its state on (re)connection
            self.connected()
        self._connected.set()

    def connected(self) -> None:
        """Start what the firmware does once connected (periodic reports)."""
        return None  # most firmwares here do nothing more

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            payload = msg.payload.decode("utf-8")
            with self._lock:
                self.on_command(msg.topic, payload)
        except (ValueError, KeyError, TypeError) as err:  # a firmware shrugs at garbage
            _LOG.warning("simulated %s ignored a command on %s: %s", self.dialect_name, msg.topic,
                         err)


def _on_off(payload: str, current: bool, on: str = "ON", off: str = "OFF") -> bool:
    """The state a command asks for (TOGGLE included: firmwares accept it, we never send it)."""
    word = payload.strip().upper()
    if word in (on.upper(), "1", "TRUE"):
        return True
    if word in (off.upper(), "0", "FALSE"):
        return False
    if word == "TOGGLE":
        return not current
    raise ValueError(f"unknown state {payload[:20]!r}")


#: Tasmota's main loop (tasmota/tasmota.ino ``loop()``) runs ``Scheduler()`` and then
#: sleeps what is left of ``Sleep`` milliseconds (50 as shipped: SettingsDefaultSet2 in
#: tasmota_support/settings.ino raises APP_SLEEP to 50; "dynamic sleep",
#: https://tasmota.github.io/docs/Dynamic-Sleep/). ``SleepDelay`` naps 1 ms at a time
#: and wakes early only for serial input or a driver's ``SleepSkip``; the MQTT driver
#: reads its socket in ``FUNC_LOOP`` only, so a command that arrives waits for the
#: next pass.
TASMOTA_SLEEP_S = 0.05
#: What one pass of the main loop itself takes. Not documented, and the evidence is
#: wide: an idle ESP8266 loop ran ~25,000 passes a second (arendst/Tasmota PR 2979,
#: 2018: ~40 us a pass), while LoadAvg's author read "LoadAvg 19" with a 50 ms loop
#: as a ~9.5 ms pass "confirmed by logic analyzer" (PR 4459); 19 is also where the
#: integer average in ``loop()`` settles for any pass under 10 ms. 5 ms is the
#: unkind middle. A ``Backlog0`` (which skips the sleep) sees it, and with
#: ``Sleep 0`` it is the loop's whole period.
TASMOTA_PASS_S = 0.005
#: ``Sleep`` takes 0..250 ms (CmndSleep, tasmota_support/support_command.ino).
TASMOTA_SLEEP_MAX_MS = 250
#: ``SetOption34``: the pause between a Backlog's commands, 200 ms by default
#: (https://tasmota.github.io/docs/Commands/#setoption34); ``Delay <n>`` replaces it
#: with n tenths of a second (https://tasmota.github.io/docs/Commands/#backlog).
TASMOTA_BACKLOG_S = 0.2
#: ``TelePeriod``: a tele/STATE snapshot every 300 s by default.
TASMOTA_TELE_PERIOD_S = 300.0


class TasmotaSim(SimRelay):
    """Tasmota's command path, pass by pass of its main loop (tasmota/tasmota.ino):

    * ``Scheduler()`` first calls the drivers' ``FUNC_LOOP``, where the MQTT driver
      calls ``PubSubClient::loop()``, which reads ONE packet per call: two commands
      sent back to back are run one pass (``Sleep``) apart;
    * then ``BacklogLoop()`` runs at most one queued Backlog command, once
      ``backlog_timer`` is reached. ``CmndBacklog`` sets that timer to now, so a
      Backlog's first command runs in the pass that received it; each command
      after that waits ``SetOption34`` (or a ``Delay``);
    * ``Backlog0`` (``backlog_nodelay``) resets the timer after each command AND
      makes ``SleepDelay`` skip the sleep, so its commands run on consecutive passes
      a few ms apart; a ``Delay`` inside it is undone by that reset;
    * after a pass the loop sleeps what is left of ``Sleep``. ``Sleep <ms>`` is a stored
      setting that applies at once (CmndSleep); with ``Sleep 0`` the loop only yields,
      so a command waits at most for the pass under way.
    """

    kind = Tasmota
    #: Tasmota's MQTT client is PubSubClient, which publishes at QoS 0 only and
    #: subscribes at QoS 0 unless told (its README): ``MqttPublishLib`` writes every
    #: report with ``beginPublish`` (no QoS), ``MqttSubscribeLib`` calls
    #: ``subscribe(topic)`` (tasmota_xdrv_driver/xdrv_02_9_mqtt.ino). So the broker hands
    #: it our QoS 1 commands at QoS 0: no PUBACK either way, and no in-flight window
    #: (mosquitto's max_inflight_messages, 20) to queue ten thousand commands behind.
    qos = 0

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring, *,
                 tele_period: float = TASMOTA_TELE_PERIOD_S, sleep: float = TASMOTA_SLEEP_S,
                 **kwargs: Any) -> None:
        self.dialect = Tasmota.from_config(config)
        self.pulse_time = 0  #: the stored PulseTime setting of our relay
        #: ``PowerOnState``: 3, "last saved state", as shipped (APP_POWERON_STATE is
        #: POWER_ALL_SAVED in tasmota/my_user_config.h).
        self.power_on_state = 3
        self.tele_period = tele_period
        #: The ``Sleep`` setting, in seconds (0: the loop never sleeps).
        self.sleep = sleep
        #: The loop's passes fall on a grid of this phase (a device booted at any time).
        self._phase = secrets.randbelow(1000) / 1000 * max(sleep, TASMOTA_PASS_S)
        self._inbox: collections.deque[tuple[str, str]] = collections.deque()
        #: Commands a Backlog still has to run; a new Backlog adds to them.
        self._backlog: collections.deque[str] = collections.deque()
        self._backlog_at = 0.0  #: ``backlog_timer`` (monotonic)
        self._nodelay = False  #: ``backlog_nodelay``: a Backlog0 is running
        super().__init__(config, burner, wiring, **kwargs)

    def connected(self) -> None:
        self.after("tele", self.tele_period, self._tele)

    def _tele(self) -> None:
        """The TelePeriod snapshot: the state *now*, which our reader may get after a
        command the device has not run yet (it waits for the next loop pass)."""
        self.publish(f"tele/{self.dialect.topic}/STATE",
                     json.dumps({"Time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                 self.dialect.power: "ON" if self.energised else "OFF"}))
        self.after("tele", self.tele_period, self._tele)

    def command_topics(self) -> list[str]:
        return [f"cmnd/{self.dialect.topic}/#"]

    def availability(self) -> tuple[str, str, str]:
        return (self.dialect.lwt_topic, "Online", "Offline")

    def on_command(self, topic: str, payload: str) -> None:
        # Read by a later pass of the main loop, one message per pass, in order.
        self._inbox.append((topic.rsplit("/", 1)[-1], payload.strip()))
        if "loop" not in self._timers:
            self._next_pass(time.monotonic())

    def _next_pass(self, now: float, *, busy: bool = False) -> None:
        """Schedule the next pass: on the loop's grid (after this pass's own work if
        ``busy``), right after it while a Backlog0 runs or, with ``Sleep 0``, while
        messages wait (no sleep), and never before the backlog timer if only the
        Backlog is waiting."""
        period = max(self.sleep, TASMOTA_PASS_S)
        ready = now + TASMOTA_PASS_S if busy else now
        if (self._nodelay and self._backlog) or (busy and not self.sleep and self._inbox):
            at = ready
        else:
            if self._backlog and not self._inbox:
                ready = max(ready, self._backlog_at)
            at = ready + (self._phase - ready) % period
        self.after("loop", at - now, self._loop_pass)

    def _loop_pass(self) -> None:
        if self._inbox:  # PubSubClient::loop(): one packet
            self.run(*self._inbox.popleft())
        now = time.monotonic()
        if self._backlog and now >= self._backlog_at:  # BacklogLoop(): one command
            self._backlog_step(now)
        if not self._backlog:
            self._nodelay = False
        if self._inbox or self._backlog:
            self._next_pass(now, busy=True)

    def run(self, command: str, arg: str) -> None:
        key = command.upper()
        if key in ("BACKLOG", "BACKLOG0"):
            # CmndBacklog (tasmota_support/support_command.ino): with no argument it
            # clears the queue; otherwise it appends and resets the backlog timer, so
            # what was left of an earlier Backlog (after a Delay too) runs on at once.
            if not arg:
                self._result({"Backlog": "Aborted" if self._backlog else "Empty"})
                self._backlog.clear()
                self._nodelay = False
                return
            self._nodelay = self._nodelay or key == "BACKLOG0"
            self._backlog.extend(c.strip() for c in arg.split(";") if c.strip())
            self._backlog_at = time.monotonic()
        elif key in self.dialect.power_names():
            if arg:
                self.power(_on_off(arg, self.energised))
            else:
                self.report()  # an empty command asks for the state
        elif key == self.dialect.pulse_command.upper():
            if arg:
                self.pulse_time = max(0, min(64900, int(arg)))
                self.cancel("pulse")  # CmndPulsetime: SetPulseTimer(index, 0)
            self._result({self.dialect.pulse_command: {"Set": self.pulse_time,
                                                       "Remaining": 0}})
        elif key == "POWERONSTATE":
            # CmndPowerOnState: a value 0..5 is stored (4 also switches every relay ON);
            # anything else, no argument included, only answers the setting.
            if arg.isdigit() and 0 <= int(arg) <= 5:
                self.power_on_state = int(arg)
                if self.power_on_state == 4:
                    self.power(True)
            self._result({"PowerOnState": self.power_on_state})
        elif key == "SLEEP":
            # CmndSleep: 0..250 is stored and applies at once (the real firmware also
            # turns Wi-Fi modem sleep off at 0: WiFiSetSleepMode, support_wifi.ino);
            # anything else, no argument included, only answers the setting.
            if arg.isdigit() and int(arg) <= TASMOTA_SLEEP_MAX_MS:
                self.sleep = int(arg) / 1000
            ms = str(round(self.sleep * 1000))
            self._result({"Sleep": {ms: {"Active": ms}}})
        elif key == "DELAY":
            # CmndDelay: the next Backlog command waits n tenths (2..3600).
            self._backlog_at = time.monotonic() + max(2, min(3600, int(arg or 0))) / 10
        else:
            self._result({"Command": "Unknown"})

    def power(self, on: bool) -> None:
        if self.ignore_commands:
            return
        self.set(on, "POWER")
        if on and self.pulse_time:
            # PulseTime: the firmware turns the relay OFF again by itself.
            self.after("pulse", pulse_seconds(self.pulse_time),
                       lambda: self.set(False, f"PulseTime {self.pulse_time}"))
        else:
            self.cancel("pulse")

    def _backlog_step(self, now: float) -> None:
        """BacklogLoop: run the queue's next command; the one after waits SetOption34
        (a Delay sets its own wait), unless a Backlog0 resets the timer."""
        name, _, arg = self._backlog.popleft().partition(" ")
        self._backlog_at = now + TASMOTA_BACKLOG_S
        self.run(name, arg.strip())
        if self._nodelay:
            self._backlog_at = now

    def _result(self, body: dict[str, Any]) -> None:
        self.publish(f"stat/{self.dialect.topic}/RESULT", json.dumps(body))

    def report(self) -> None:
        state = "ON" if self.energised else "OFF"
        self._result({self.dialect.power: state})
        self.publish(f"stat/{self.dialect.topic}/{self.dialect.power}", state)


class _AutoTimerSim(SimRelay):
    """Firmware with a per-relay auto_off/auto_on setting made on the device (DeclaredTimer)."""

    def switch_to(self, on: bool, why: str) -> None:
        if self.ignore_commands:
            return
        self.set(on, why)
        if on and self.config.auto_off:
            self.after("auto", self.auto_seconds, lambda: self.set(False, "auto_off"))
        elif not on and self.config.auto_on:
            self.after("auto", self.auto_seconds, lambda: self.set(True, "auto_on"))
        else:
            self.cancel("auto")


class ShellySim(_AutoTimerSim):
    """Shelly Gen1: publishes ``relay/<n>`` on every change and again every
    ``mqtt_update_period`` seconds (30 by default; /settings, "mqtt_update_period",
    https://shelly-api-docs.shelly.cloud/gen1/#settings), and on ``update``.

    Timing: the Gen1 and Gen2 APIs document no delay between an MQTT command and
    the switch or its report (both firmwares handle MQTT in their event loop and
    publish a change as it happens), so none is modelled; a state report is not
    retained (Gen1 ``mqtt_retain`` is off by default)."""

    kind = Shelly

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring, *,
                 update_period: float = 30.0, **kwargs: Any) -> None:
        self.dialect = Shelly.from_config(config)
        self.update_period = update_period
        super().__init__(config, burner, wiring, **kwargs)

    def connected(self) -> None:
        self.after("update", self.update_period, self._periodic)

    def _periodic(self) -> None:
        self.report()
        self.after("update", self.update_period, self._periodic)

    def command_topics(self) -> list[str]:
        return [f"{self.dialect.relay_topic}/command", self.dialect.device_command_topic]

    def availability(self) -> tuple[str, str, str]:
        return (self.dialect.online_topic, "true", "false")

    def on_command(self, topic: str, payload: str) -> None:
        if topic == self.dialect.device_command_topic:
            if payload.strip() == "update":
                self.report()
            return
        self.switch_to(_on_off(payload, self.energised, "on", "off"), f"command {payload}")

    def report(self) -> None:
        self.publish(self.dialect.relay_topic, "on" if self.energised else "off")


class ShellyRpcSim(SimRelay):
    kind = ShellyRpc

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring,
                 **kwargs: Any) -> None:
        self.dialect = ShellyRpc.from_config(config)
        #: ``initial_state``: ``match_input`` in the Switch page's GetConfig example
        #: (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch) and
        #: in the configuration of Plus/Gen3/Gen4 devices as shipped.
        self.initial_state = "match_input"
        #: The Mqtt component's ``status_ntf`` (status on ``<prefix>/status/switch:<id>``):
        #: off as shipped ("Generic status update over MQTT" unticked), while ``rpc_ntf``
        #: (NotifyStatus on ``<prefix>/events/rpc``) is on
        #: (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt).
        self.status_ntf = False
        super().__init__(config, burner, wiring, **kwargs)

    def command_topics(self) -> list[str]:
        return [self.dialect.rpc_topic]

    def availability(self) -> tuple[str, str, str]:
        return (self.dialect.online_topic, "true", "false")

    def on_command(self, topic: str, payload: str) -> None:
        request = json.loads(payload)
        src, method = str(request["src"]), request.get("method")
        params = request.get("params") or {}
        reply: dict[str, Any] = {"id": request.get("id"), "src": self.dialect.prefix, "dst": src}
        if params.get("id") != self.dialect.channel:
            reply["error"] = {"code": -105, "message": f"Argument 'id', value {params.get('id')} "
                                                       "not found!"}
        elif method == "Switch.Set":
            reply["result"] = {"was_on": self.energised}
            self.switch_set(bool(params["on"]), params.get("toggle_after"))
        elif method == "Switch.GetStatus":
            reply["result"] = self._status()
        elif method == "Switch.GetConfig":
            reply["result"] = self._config()
        elif method == "Switch.SetConfig":
            self.initial_state = str((params.get("config") or {}).get("initial_state",
                                                                     self.initial_state))
            reply["result"] = {"restart_required": False}
        else:
            reply["error"] = {"code": 404, "message": f"No handler for {method}"}
        self.publish(f"{src}/rpc", json.dumps(reply))

    def switch_set(self, on: bool, toggle_after: Any) -> None:
        if self.ignore_commands:
            return
        self.set(on, "Switch.Set")
        if isinstance(toggle_after, int | float) and toggle_after > 0:
            self.after("toggle", float(toggle_after),
                       lambda: self.set(not on, f"toggle_after {toggle_after}"))
        else:
            self.cancel("toggle")

    def _status(self) -> dict[str, Any]:
        return {"id": self.dialect.channel, "source": "MQTT", "output": self.energised}

    def _config(self) -> dict[str, Any]:
        # As the Switch page's GetConfig example, and devices as shipped, answer.
        return {"id": self.dialect.channel, "name": None, "in_mode": "follow",
                "initial_state": self.initial_state, "auto_on": False, "auto_on_delay": 60.0,
                "auto_off": False, "auto_off_delay": 60.0}

    def report(self) -> None:
        status = self._status()
        if self.status_ntf:
            self.publish(self.dialect.status_topic, json.dumps(status))
        notify = {"src": self.dialect.prefix, "dst": f"{self.dialect.prefix}/events",
                  "method": "NotifyStatus",
                  "params": {"ts": round(time.time(), 2), self.dialect.component: status}}
        self.publish(self.dialect.events_topic, json.dumps(notify))


#: One Zigbee hop, coordinator to device: an 802.15.4 frame at 250 kbit/s and its MAC
#: ack take a few ms, a router or the coordinator's serial link more. Not documented
#: as a figure; 10 ms is on the kind side.
ZIGBEE_HOP_S = 0.01


class Zigbee2MqttSim(SimRelay):
    """The Zigbee2MQTT bridge and one on/off device behind it.

    The connection is the bridge's: its will is ``<base>/bridge/state``
    ``{"state":"offline"}`` (retained), and it publishes ``{"state":"online"}``
    on connect (Koenkk/zigbee2mqtt lib/mqtt.ts). The device's availability is
    published by the bridge, retained, and nobody clears it when the bridge
    dies: it stays "online".
    """

    kind = Zigbee2Mqtt

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring,
                 **kwargs: Any) -> None:
        self.dialect = Zigbee2Mqtt.from_config(config)
        #: The device's ``power_on_behavior``, in every state message the bridge sends
        #: (its cached attributes). Device-specific, with no bridge-wide default: the
        #: simulator starts at ``previous``, the one that misleads; tests set others.
        self.power_on_behavior = "previous"
        self._frames = 0  #: Zigbee frames sent, to name their timers
        super().__init__(config, burner, wiring, **kwargs)

    def command_topics(self) -> list[str]:
        return [f"{self.dialect.device_topic}/set", f"{self.dialect.device_topic}/get"]

    def availability(self) -> tuple[str, str, str]:
        return (self.dialect.availability_topic, '{"state":"online"}', '{"state":"offline"}')

    def will(self) -> tuple[str, str]:
        return (self.dialect.bridge_topic, '{"state":"offline"}')

    def connected(self) -> None:
        self.publish(self.dialect.bridge_topic, '{"state":"online"}', retain=True)

    def on_command(self, topic: str, payload: str) -> None:
        # Timing (lib/extension/publish.ts): a /set runs the device's converter,
        # which sends the ZCL command and awaits the device's default response;
        # only then does the bridge publish the state it asked for (`optimistic`,
        # the default), whatever the device did (docs/design.md §5). A /get reads the
        # attribute: its answer comes back over the radio too. The device switches
        # when the frame reaches it.
        body = json.loads(payload)
        self._frames += 1
        frame = f"zigbee-{self._frames}"
        if topic.endswith("/get"):
            self.after(frame, 2 * ZIGBEE_HOP_S, self.report)
            return
        if self.dialect.key not in body and self.dialect.power_on_key in body:
            # A setting, written to the device and answered with the state once it acks.
            def write() -> None:
                self.power_on_behavior = str(body[self.dialect.power_on_key])
                self.report()
            self.after(frame, 2 * ZIGBEE_HOP_S, write)
            return
        on = _on_off(str(body[self.dialect.key]), self.energised)
        self.after(frame, ZIGBEE_HOP_S, lambda: self._device_set(on, body.get("on_time")))
        self.after(f"{frame}-echo", 2 * ZIGBEE_HOP_S, lambda: self._publish_state(on))

    def _device_set(self, on: bool, on_time: Any) -> None:
        if self.ignore_commands:
            return
        self.set(on, "set", report=False)
        if on and isinstance(on_time, int | float) and on_time > 0:
            self.after("on_time", float(on_time), lambda: self.set(False, f"on_time {on_time}"))
        else:
            self.cancel("on_time")

    def _publish_state(self, on: bool) -> None:
        body = {self.dialect.key: "ON" if on else "OFF", "linkquality": 120,
                self.dialect.power_on_key: self.power_on_behavior}
        self.publish(self.dialect.device_topic, json.dumps(body))

    def report(self) -> None:
        self._publish_state(self.energised)


class EspHomeSim(_AutoTimerSim):
    """ESPHome: a switch state is published (retained) only when it changes
    (``Switch::publish_state`` dedup, esphome/components/switch/switch.cpp), and
    every state again on each (re)connection (mqtt_client.cpp)."""

    kind = EspHome
    reports_unchanged = False

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring,
                 **kwargs: Any) -> None:
        self.dialect = EspHome.from_config(config)
        super().__init__(config, burner, wiring, **kwargs)

    def command_topics(self) -> list[str]:
        return [self.dialect.command_topic]

    def availability(self) -> tuple[str, str, str]:
        return (self.dialect.status_topic, "online", "offline")

    def on_command(self, topic: str, payload: str) -> None:
        self.switch_to(_on_off(payload, self.energised), f"command {payload}")

    def report(self) -> None:
        # ESPHome retains switch states by default.
        self.publish(self.dialect.state_topic, "ON" if self.energised else "OFF", retain=True)


class GenericSim(_AutoTimerSim):
    kind = Generic

    def __init__(self, config: MqttRelayConfig, burner: Burner, wiring: Wiring,
                 **kwargs: Any) -> None:
        self.dialect = Generic.from_config(config)
        super().__init__(config, burner, wiring, **kwargs)

    def command_topics(self) -> list[str]:
        d = self.dialect
        return [d.command_topic] + ([d.get_topic] if d.get_topic else [])

    def availability(self) -> tuple[str, str, str] | None:
        d = self.dialect
        if d.availability_topic is None:
            return None
        return (d.availability_topic, d.payload_available, d.payload_not_available)

    def on_command(self, topic: str, payload: str) -> None:
        if topic == self.dialect.get_topic:
            self.report()
            return
        d = self.dialect
        self.switch_to(_on_off(payload, self.energised, d.payload_on, d.payload_off),
                       f"command {payload}")

    def report(self) -> None:
        d = self.dialect
        value: Any = d.state_on if self.energised else d.state_off
        if not d.state_json_path:
            self.publish(d.state_topic, value)
            return
        for key in reversed(d.state_json_path):
            value = {key: value}
        self.publish(d.state_topic, json.dumps(value))


SIMS: dict[str, type[SimRelay]] = {
    cls.kind.name: cls
    for cls in (TasmotaSim, ShellySim, ShellyRpcSim, Zigbee2MqttSim, EspHomeSim, GenericSim)
}


def sim_for(config: MqttRelayConfig, burner: Burner, wiring: Wiring, **kwargs: Any) -> SimRelay:
    """The simulated firmware for ``config.dialect`` (not yet started)."""
    return SIMS[config.dialect](config, burner, wiring, **kwargs)


class Scheduler:
    """One thread for the timers of many simulated relays (a thread per pulse does not scale)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._seq = 0
        self._wake = threading.Condition()
        #: How late actions ran (seconds), since the last ``lateness()``: a fleet whose
        #: timers run late is slower than the firmware it simulates.
        self._late: list[float] = []
        threading.Thread(target=self._run, daemon=True, name="sim-scheduler").start()

    def __call__(self, seconds: float, action: Callable[[], None]) -> Cancel:
        slot: list[Callable[[], None] | None] = [action]
        with self._wake:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + seconds, self._seq, slot))
            self._wake.notify()
        return lambda: slot.__setitem__(0, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                due, _, slot = heapq.heappop(self._heap)
            if (action := slot[0]) is not None:
                self._late.append(time.monotonic() - due)
                action()

    def lateness(self) -> list[float]:
        """How late each action ran since the last call (seconds), and start afresh."""
        late, self._late = self._late, []
        return late


class TasmotaFleet:
    """Many simulated Tasmota relays on ONE broker connection, for scale runs.

    Each relay is a :class:`TasmotaSim` (the same firmware logic); one paho
    client subscribes to ``cmnd/#`` and hands each command to the relay whose
    topic it names, and the relays report through that client. Each relay's
    ``Online`` is published retained on connect and ``Offline`` on stop; the
    connection has one will, so a single relay's power loss is not simulated.
    """

    def __init__(self, relays: list[tuple[MqttRelayConfig, Burner, Wiring]], *,
                 host: str = "127.0.0.1", port: int = 1883,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.host, self.port = host, port
        self.scheduler = Scheduler()
        self.sims: dict[str, TasmotaSim] = {}
        for config, burner, wiring in relays:
            topic = Tasmota.from_config(config).topic
            changed = functools.partial(on_change, topic) if on_change else None
            self.sims[topic] = TasmotaSim(config, burner, wiring, schedule=self.scheduler,
                                          on_change=changed)
        self._connected = threading.Event()
        self._client = Client(CallbackAPIVersion.VERSION2,
                              client_id=f"sim-fleet-{secrets.token_hex(3)}")
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        for sim in self.sims.values():
            sim._client = self._client  # the fleet is the relays' connection

    def start(self, timeout: float = 30.0) -> None:
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError("simulated Tasmota fleet could not connect")

    def stop(self) -> None:
        for sim in self.sims.values():
            sim._cancel_all()
            sim.publish(sim.availability()[0], "Offline", retain=True)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        client.subscribe("cmnd/#", qos=TasmotaSim.qos)
        for sim in self.sims.values():
            sim.publish(sim.availability()[0], "Online", retain=True)
            with sim._lock:
                sim.report()
        self._connected.set()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        topic = msg.topic.partition("/")[2].rpartition("/")[0]
        if (sim := self.sims.get(topic)) is not None:
            sim._on_message(_c, _u, msg)
