"""Tasmota: ``cmnd/<topic>/POWER<n>``, state on ``stat/<topic>/POWER<n>`` and ``RESULT``.

Conventions checked against the Tasmota documentation:
https://tasmota.github.io/docs/Commands/ (Power, PulseTime, Backlog, Delay) and
https://tasmota.github.io/docs/MQTT/ (cmnd/stat/tele prefixes, ``tele/<topic>/LWT``
Online/Offline, retained). A one-relay device names its relay ``POWER`` unless
SetOption26 is on, so channel 1 accepts both spellings.

Device-side pulses (docs/design.md §5): ``PulseTime<n>`` turns a relay OFF after it
was turned ON (an NC cut). It is a stored setting, so every plain ON clears it
first, or a later lock would end by itself. An OFF pulse (NO cut) is a
``Backlog POWER OFF; Delay; POWER ON`` that runs on the device.

Speed (issue 17): the device reads one MQTT message per pass of its main loop
(``Sleep``, 50 ms as shipped) and a plain ``Backlog`` waits ``SetOption34``
(200 ms) between commands. So an ON sets its PulseTime and switches in ONE
message, ``Backlog0 PulseTime<n> <t>; POWER<n> ON``: ``Backlog0`` runs its
commands on consecutive passes without the pause or the sleep (CmndBacklog and
BacklogLoop/SleepDelay, tasmota/tasmota.ino), a few ms apart; a firmware older
than Backlog0 takes it as a plain Backlog (the index is ignored): slower, same
result. The PulseTime travels with every ON, so a device that lost or changed
its stored setting can never turn a lock into a pulse, or leave a cut unended.
``Delay`` does nothing in a ``Backlog0``, so the OFF pulse stays a plain
``Backlog``: its first command still runs in the pass that reads it.

The only thing one of our commands leaves queued on the device is the
``POWER ON`` at the end of an OFF pulse, which could undo a later OFF (a lock
sent during its Delay). So an OFF is preceded by an empty ``Backlog`` that clears
the queue (one more message, one more loop pass); an ON is not: the leftover
``POWER ON`` agrees with it. A relay wired normally_closed is never sent an OFF
pulse, so its OFFs (restore, unlock) go without the clear.

What confirms (issue 13): every ``POWER`` command is answered on ``stat/`` even
when the relay already had that state (``ExecuteCommandPower`` in
tasmota/tasmota_support/support_tasmota.ino ends with ``MqttPublishPowerState``
whatever changed), so a cut of a relay already energised is confirmed afresh.
``tele/<topic>/STATE`` is a snapshot sent every TelePeriod (300 s by default)
and may have left the device before it ran our command (the Commands page
warns that one "may appear exactly after you issue Power off command"): it is
read, never taken as the answer to a command.

After a power cut (issue 16): ``PowerOnState`` with no argument only answers
``{"PowerOnState":N}`` on ``stat/RESULT``: CmndPowerOnState
(tasmota_support/support_command.ino) stores a value only when the payload is
0..5, and a missing one is -99. It is one setting for every relay of the
device. At a power-on reset SetPowerOnState (support_tasmota.ino) switches
0/5 off, 1 on, 2 to the saved state toggled and 3 to the saved state (2 and 3
only with SetOption0, "save power state", on); 4 is always on. Any other
restart (a crash, an update) restores the saved state whatever PowerOnState
says, if SetOption0 is on. A relay that comes back ON restarts its stored
PulseTime (the loop at the end of SetPowerOnState).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..plan import DevicePulse
from ..power_on import PowerOn
from .base import Dialect, Message, ParseError, Report, json_object, tenths, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig

#: ``Delay`` in a Backlog: 0.1 s steps, 2..3600.
DELAY_MAX = 3600
#: PowerOnState values (https://tasmota.github.io/docs/Commands/#poweronstate).
POWER_ON_STATES = (PowerOn.OFF, PowerOn.ON, PowerOn.TOGGLE, PowerOn.LAST,
                   PowerOn.ON_LOCKED, PowerOn.OFF_THEN_ON)
#: Channel 1's names (every report is matched against them).
_FIRST = frozenset({"POWER", "POWER1"})


def pulse_time(seconds: float) -> int:
    """The PulseTime value for ``seconds``: 1..111 are tenths, 112+ are seconds + 100."""
    steps = max(1, tenths(seconds))
    if steps <= 111:
        return steps
    return -(-steps // 10) + 100  # whole seconds, rounded up


def pulse_seconds(value: int) -> float:
    """Seconds a PulseTime value holds the relay ON (0: no pulse)."""
    return value / 10 if value <= 111 else float(value - 100)


@dataclass(frozen=True)
class Tasmota(Dialect):
    name: ClassVar[str] = "tasmota"
    title: ClassVar[str] = "Tasmota"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "channel", "device_timer"})
    topic: str
    channel: int | None = None  #: None: a one-relay device (``POWER``)
    timer: bool = True
    #: The relay may be sent an OFF pulse, whose end may still be queued on the device.
    off_pulses: bool = True

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> Tasmota:
        assert config.topic is not None  # the config model requires it
        return cls(config.topic, config.channel, config.device_timer)

    @property
    def power(self) -> str:
        return "POWER" if self.channel is None else f"POWER{self.channel}"

    @property
    def pulse_command(self) -> str:
        return f"PulseTime{self.channel or 1}"

    def power_names(self) -> frozenset[str]:
        """How the device may name our relay in its reports."""
        if self.channel in (None, 1):
            return _FIRST
        return frozenset({self.power})

    def cmnd(self, command: str) -> str:
        return f"cmnd/{self.topic}/{command}"

    @property
    def lwt_topic(self) -> str:
        return f"tele/{self.topic}/LWT"

    def describe(self) -> str:
        return f"tasmota {self.cmnd(self.power)}"

    def subscriptions(self) -> tuple[str, ...]:
        stat = tuple(f"stat/{self.topic}/{name}" for name in sorted(self.power_names()))
        return (*stat, f"stat/{self.topic}/RESULT", f"tele/{self.topic}/STATE", self.lwt_topic)

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=self.timer, off=self.timer)

    def switch(self, energised: bool, pulse_seconds: float | None = None) -> list[Message]:
        messages = super().switch(energised, pulse_seconds)
        if not self.timer or energised or not self.off_pulses:
            return messages  # nothing of ours left queued can undo this
        # An empty Backlog clears what an earlier OFF pulse left queued (CmndBacklog,
        # tasmota_support/support_command.ino): else its `POWER ON` would undo a
        # lock sent during its Delay, and a new Backlog would run that rest at once
        # (appending resets the backlog timer).
        return [Message(self.cmnd("Backlog"), ""), *messages]

    def without_off_pulses(self) -> Tasmota:
        # normally_closed: a cut is an ON pulse, so no Backlog of ours ends in a POWER ON
        # (and one left by a wiring since changed would cut, the safe side).
        return replace(self, off_pulses=False)

    def _set(self, energised: bool) -> list[Message]:
        if energised and self.timer:
            # A PulseTime left from an earlier cut would end this ON by itself.
            return [self._on(0)]
        return [Message(self.cmnd(self.power), "ON" if energised else "OFF")]

    def _on(self, pulse: int) -> Message:
        """ON with this PulseTime, in one message the device runs without pauses."""
        return Message(self.cmnd("Backlog0"), f"{self.pulse_command} {pulse}; {self.power} ON")

    def _pulse(self, energised: bool, seconds: float) -> list[Message]:
        if energised:
            return [self._on(pulse_time(seconds))]
        delay = min(DELAY_MAX, max(2, tenths(seconds)))
        return [Message(self.cmnd("Backlog"),
                        f"{self.power} OFF; Delay {delay}; {self.power} ON")]

    def poll(self) -> list[Message]:
        return [Message(self.cmnd(self.power), "")]  # an empty command reports the state

    def power_on_query(self) -> list[Message]:
        return [Message(self.cmnd("PowerOnState"), "")]  # no argument: only reports it

    def loop_sleep_query(self) -> list[Message]:
        return [Message(self.cmnd("Sleep"), "")]  # no argument: only reports it

    def loop_sleep_advice(self, ms: int) -> str:
        # Issue 17: the device reads one MQTT message per pass of its main loop and
        # sleeps up to Sleep ms between passes (SleepDelay, tasmota/tasmota.ino).
        if ms == 0:
            return "its main loop does not sleep (Sleep 0): a command runs within a pass"
        return (f"its main loop sleeps up to {ms} ms between passes (Sleep {ms}), so a "
                "command may wait that long before it runs: little next to a cut, which holds "
                "the loop open for seconds. For the fastest cut or lock, send `Sleep 0` "
                f"to {self.cmnd('Sleep')} once (stored; about 0.5 W more and a warmer "
                "device: README, Tasmota)")

    def power_on_fix(self, wanted: PowerOn) -> str:
        value = POWER_ON_STATES.index(wanted)
        return (f"send `PowerOnState {value}` to {self.cmnd('PowerOnState')} (Tasmota "
                "console: PowerOnState " f"{value}; it applies to every relay of the device)")

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.lwt_topic:
            return Report(online=word(text(payload), "Online", "Offline", "LWT"))
        name = topic.rsplit("/", 1)[-1]
        if name in self.power_names():
            return Report(energised=word(text(payload), "ON", "OFF", name))
        if name in ("RESULT", "STATE"):
            data = json_object(payload)
            found = [key for key in self.power_names() if key in data]
            if name == "RESULT" and "PowerOnState" in data:
                return Report(power_on=_power_on_state(data["PowerOnState"]))
            if name == "RESULT" and "Sleep" in data:
                return Report(loop_sleep_ms=_active_sleep(data["Sleep"]))
            if not found:
                return None  # the answer to another command (PulseTime, Backlog...)
            return Report(energised=word(data[found[0]], "ON", "OFF", f"{name}.{found[0]}"),
                          periodic=name == "STATE")
        raise ParseError(f"not a topic of {self.describe()}")


def _power_on_state(value: object) -> PowerOn:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(
            POWER_ON_STATES):
        return POWER_ON_STATES[value]
    raise ParseError(f"PowerOnState must be 0..5, got {str(value)[:20]!r}")


def _active_sleep(value: object) -> int:
    """The loop sleep in force from CmndSleep's answer: ``{"50":{"Active":"50"}}``, or
    ``"50 (Active 50)"`` before Tasmota 9 (S_JSON_COMMAND_NVALUE_ACTIVE_NVALUE, i18n.h).
    Active, not the setting: some drivers override it (a PWM light runs Sleep 10)."""
    active: object = None
    if isinstance(value, dict) and len(value) == 1:
        inner = next(iter(value.values()))
        active = inner.get("Active") if isinstance(inner, dict) else None
    elif isinstance(value, str) and value.endswith(")") and "(Active " in value:
        active = value[value.index("(Active ") + 8:-1]
    if isinstance(active, str) and active.isascii() and active.isdigit() and int(active) <= 250:
        return int(active)
    raise ParseError(f"Sleep must answer its active 0..250 ms, got {str(value)[:30]!r}")
