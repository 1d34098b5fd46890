"""What every MQTT dialect provides, and the parsing helpers they share. Pure: no I/O.

A dialect turns "energise / release, perhaps timed by the device" into messages
to publish, and a message the device published into a :class:`Report`. The
transport (``gasstove.adapters.mqtt``) adds everything else: QoS 1, never
retained, deadlines and confirmation.

Everything a device sends is hostile until parsed: a dialect either returns a
:class:`Report`, ``None`` (a message on one of its topics that says nothing
about the relay), or raises :class:`ParseError`, which the transport logs and
ignores. Nothing else may escape.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..plan import DevicePulse
from ..power_on import PowerOn

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig

#: A relay's state report is tens of bytes (a Tasmota STATE a few hundred):
#: anything bigger is refused unread rather than parsed.
MAX_PAYLOAD = 16 * 1024


@dataclass(frozen=True)
class Message:
    """One publish. QoS and retain are not the dialect's choice: QoS 1, never retained."""

    topic: str
    payload: str


@dataclass(frozen=True)
class Report:
    """What one device message says; ``None`` fields say nothing."""

    energised: bool | None = None  #: the relay's own report of its coil
    online: bool | None = None  #: its availability (LWT / birth message)
    refused: str | None = None  #: the device answered our command with an error
    #: A snapshot the firmware sends on a timer (Tasmota ``tele/STATE``): it may have
    #: been sent before the device ran our command, so it never confirms one.
    periodic: bool = False
    #: The availability of the bridge the device sits behind (Zigbee2MQTT's
    #: ``bridge/state``): the device's own availability says nothing when it is down.
    bridge_online: bool | None = None
    #: The number of our request this replies to (see :meth:`Dialect.requests`).
    answers: int | None = None
    #: What the relay does when its power comes back (see :meth:`Dialect.power_on_query`).
    power_on: PowerOn | None = None
    #: Milliseconds the firmware's main loop sleeps between passes (Tasmota ``Sleep``).
    loop_sleep_ms: int | None = None


class ParseError(ValueError):
    """A message on one of our topics that is not a valid report (logged, then ignored)."""


class CannotHold(ValueError):
    """The firmware ends this state by itself, so it cannot be held (a lock, a rest state)."""


class Dialect(ABC):
    """One firmware's MQTT conventions. The class is the one place for the dialect's
    name, its title and the configuration keys it reads: the config model, the
    simulator, the CLI and Home Assistant's form are derived from it (``REGISTRY``)."""

    #: What ``dialect:`` says in a relay block.
    name: ClassVar[str]
    #: What a person calls the firmware (help texts, Home Assistant's form).
    title: ClassVar[str]
    #: The relay block's keys this dialect reads (``type`` and ``dialect`` aside):
    #: any other key set in the block is refused by name.
    keys: ClassVar[frozenset[str]]
    #: The keys a relay block of this dialect must set.
    required: ClassVar[tuple[str, ...]] = ("topic",)
    #: The bridge answers a command with the state it asked for, not one the
    #: device reported (Zigbee2MQTT): confirm only with a fresh read.
    optimistic_echo: ClassVar[bool] = False
    #: The firmware publishes its state again when told to switch to the state it
    #: already has. ESPHome does not (see :mod:`.esphome`); with no state request
    #: either, a relay already in the wanted state cannot confirm it afresh.
    reports_unchanged: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def from_config(cls, config: MqttRelayConfig) -> Dialect:
        """This dialect for a relay block the config model validated (see :meth:`check`)."""

    @classmethod
    def check(cls, config: MqttRelayConfig) -> None:
        """Refuse, with a ``ValueError`` naming the key, what no single key can say wrong."""
        return None  # a block of one topic has nothing more to get wrong

    @classmethod
    def example(cls, topic: str) -> dict[str, Any]:
        """A relay block for a device at ``topic`` (``stove sim mqtt`` prints it, tests use it)."""
        return {"type": "mqtt", "dialect": cls.name, "topic": topic}

    @abstractmethod
    def describe(self) -> str:
        """Where the relay is, unique per relay (used to spot two burners on one relay)."""

    @abstractmethod
    def subscriptions(self) -> tuple[str, ...]:
        """Exact topics (no wildcards) carrying this relay's state and availability."""

    @abstractmethod
    def device_pulse(self) -> DevicePulse:
        """Which pulses the firmware times itself, so they end even if we die."""

    @abstractmethod
    def _set(self, energised: bool) -> list[Message]:
        """An idempotent set (never a toggle): a retried toggle would undo itself."""

    def _pulse(self, energised: bool, seconds: float) -> list[Message]:
        """Switch to ``energised`` and have the device switch back after ``seconds``."""
        raise NotImplementedError  # only reached when device_pulse() allows it

    def poll(self) -> list[Message]:
        """Ask the device for a fresh state report; empty when the firmware has no such request."""
        return []

    def power_on_query(self) -> list[Message]:
        """Messages that make the device report its power-on setting (they switch
        nothing); empty when the firmware cannot be asked over MQTT."""
        return []

    def loop_sleep_query(self) -> list[Message]:
        """Messages that make the device report how long its main loop sleeps (they
        switch nothing); empty when the firmware has no such setting."""
        return []

    def loop_sleep_advice(self, ms: int) -> str:
        """What a loop sleep of ``ms`` means for a command, for `stove check`."""
        return f"its main loop sleeps up to {ms} ms between passes: a command may wait that long"

    @abstractmethod
    def power_on_fix(self, wanted: PowerOn) -> str:
        """How the user makes the relay come back ``wanted`` after a power cut."""

    def requests(self) -> int:
        """How many numbered requests this relay has made (replies say which they answer);
        0 for firmwares whose replies carry no request id."""
        return 0

    def bridge(self) -> str | None:
        """The topic of the bridge's own availability, for devices behind one (Zigbee2MQTT)."""
        return None

    def without_off_pulses(self) -> Dialect:
        """This dialect for a relay that is never sent an OFF pulse (normally_closed
        wiring: a cut is an ON pulse)."""
        return self

    def confirms_unchanged(self) -> bool:
        """Whether a command to the state the relay already has can be confirmed afresh
        (the firmware reports it again, or answers a state request sent after it)."""
        return self.reports_unchanged or bool(self.poll())

    @abstractmethod
    def parse(self, topic: str, payload: bytes) -> Report | None: ...

    def switch(self, energised: bool, pulse_seconds: float | None = None) -> list[Message]:
        """Messages that set the relay; with ``pulse_seconds`` the device switches back itself.

        Raises ``ValueError`` for a pulse this firmware cannot time (the caller
        asked without checking :meth:`device_pulse`).
        """
        if pulse_seconds is None:
            return self._set(energised)
        pulse = self.device_pulse()
        if not (pulse.on if energised else pulse.off):
            way = "an ON" if energised else "an OFF"
            raise ValueError(f"{self.describe()} cannot time {way} pulse itself")
        return self._pulse(energised, pulse_seconds)


class DeclaredTimer(Dialect):
    """Firmware whose only timer is a per-relay setting made on the device by the user.

    Shelly Gen1 ``auto_off``/``auto_on`` and an ESPHome ``on_turn_on: delay``
    are not per-command: once set, *every* switch in that direction ends by
    itself. So the relay declares the device-side pulse only when the
    configuration says the setting is made, and then refuses to *hold* that
    state (a lock would silently end; with ``normally_open`` wiring an
    ``auto_off`` would put the burner out after every restore).
    """

    auto_off: bool
    auto_on: bool

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=self.auto_off, off=self.auto_on)

    def switch(self, energised: bool, pulse_seconds: float | None = None) -> list[Message]:
        if pulse_seconds is None and (self.auto_off if energised else self.auto_on):
            setting, state = ("auto_off", "energised") if energised else ("auto_on", "released")
            raise CannotHold(
                f"{self.describe()}: {setting} is set on the device, so it cannot hold "
                f"the relay {state} (a lock, or this wiring's rest state)"
            )
        return super().switch(energised, pulse_seconds)

    def _pulse(self, energised: bool, seconds: float) -> list[Message]:
        # The device's own setting ends it; its duration is the one set on the device.
        return self._set(energised)


# -- parsing helpers ---------------------------------------------------------


def text(payload: bytes) -> str:
    """The payload as stripped UTF-8 text, refusing oversized and undecodable ones."""
    if len(payload) > MAX_PAYLOAD:
        raise ParseError(f"payload of {len(payload)} bytes is too large for a state report")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ParseError("payload is not UTF-8 text") from None


def json_payload(payload: bytes) -> Any:
    try:
        return json.loads(text(payload))
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise ParseError("payload is not valid JSON") from None


def json_object(payload: bytes) -> dict[str, Any]:
    value = json_payload(payload)
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def lookup(value: Any, path: tuple[str, ...]) -> Any:
    """``value[p0][p1]...``; ``None`` when a key is missing (the message is about something else)."""
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def word(value: Any, on: str, off: str, what: str) -> bool:
    """``True``/``False`` for the device's words for on and off (case-insensitive)."""
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded == on.casefold():
            return True
        if folded == off.casefold():
            return False
    raise ParseError(f"{what} must be {on!r} or {off!r}, got {_brief(value)}")


def boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ParseError(f"{what} must be true or false, got {_brief(value)}")


def tenths(seconds: float) -> int:
    """Whole tenths of a second, rounded up: a device-timed cut never ends early."""
    return math.ceil(round(seconds * 10, 6))


def _brief(value: Any) -> str:
    """A short description of a bad value for a log line (never the whole payload)."""
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{type(value).__name__} ({len(shown)} chars)"
