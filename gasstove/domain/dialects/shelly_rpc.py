"""Shelly Gen2+ (Plus, Pro): JSON-RPC 2.0 on ``<prefix>/rpc``, ``Switch.Set`` with ``toggle_after``.

Conventions checked against the Gen2 API documentation:
https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch (Switch.Set
``id``/``on``/``toggle_after``, Switch.GetStatus ``output``),
https://shelly-api-docs.shelly.cloud/gen2/General/RPCProtocol (replies go to
``<src>/rpc``), https://shelly-api-docs.shelly.cloud/gen2/General/Notifications
(NotifyStatus on ``<prefix>/events/rpc``) and
https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt
(``<prefix>/status/switch:<id>`` when status_ntf is on, ``<prefix>/online``).

The reply to ``Switch.Set`` carries ``was_on`` (the state *before*), so it
confirms nothing; a ``Switch.GetStatus`` reply is the device's own report.
Request ids are ``sw<channel>-<nonce>-<n>`` with a nonce random per relay, so
a reply to another process's request (they share our reply topic) or to an
earlier run is ignored, and a reply says which of our requests it answers:
one asked before our command never confirms it (the device answers in order).
``toggle_after`` works in both directions, per command.

After a power cut (issue 16): ``Switch.GetConfig`` answers the switch's
``initial_state``, one of ``off``, ``on``, ``restore_last``, ``match_input``
(the Switch page above, "Configuration"); reading it switches nothing.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..plan import DevicePulse
from ..power_on import PowerOn
from .base import Dialect, Message, ParseError, Report, boolean, json_object, lookup, text, word

if TYPE_CHECKING:
    from ..mqtt_config import MqttRelayConfig


@dataclass(frozen=True)
class ShellyRpc(Dialect):
    name: ClassVar[str] = "shelly_rpc"
    title: ClassVar[str] = "Shelly Gen2+"
    keys: ClassVar[frozenset[str]] = frozenset({"topic", "channel", "device_timer"})
    prefix: str
    channel: int = 0
    timer: bool = True
    #: Request ids: this relay's nonce and a count of the requests made so far.
    _nonce: str = field(default_factory=lambda: secrets.token_hex(4), compare=False, repr=False)
    _issued: list[int] = field(default_factory=lambda: [0], compare=False, repr=False)

    @classmethod
    def from_config(cls, config: MqttRelayConfig) -> ShellyRpc:
        assert config.topic is not None  # the config model requires it
        return cls(config.topic, config.channel or 0, config.device_timer)

    @property
    def component(self) -> str:
        return f"switch:{self.channel}"

    @property
    def src(self) -> str:
        """Our RPC source name: the device replies on ``<src>/rpc``."""
        return "gasstove-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.prefix)

    @property
    def rpc_topic(self) -> str:
        return f"{self.prefix}/rpc"

    @property
    def reply_topic(self) -> str:
        return f"{self.src}/rpc"

    @property
    def online_topic(self) -> str:
        return f"{self.prefix}/online"

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status/{self.component}"

    @property
    def events_topic(self) -> str:
        return f"{self.prefix}/events/rpc"

    def describe(self) -> str:
        return f"shelly_rpc {self.prefix} {self.component}"

    def subscriptions(self) -> tuple[str, ...]:
        return (self.status_topic, self.events_topic, self.reply_topic, self.online_topic)

    def device_pulse(self) -> DevicePulse:
        return DevicePulse(on=self.timer, off=self.timer)

    @property
    def _id_prefix(self) -> str:
        return f"sw{self.channel}-{self._nonce}-"

    def requests(self) -> int:
        return self._issued[0]

    def _call(self, method: str, **params: Any) -> Message:
        self._issued[0] += 1
        request = {
            "id": f"{self._id_prefix}{self._issued[0]}", "src": self.src,
            "method": method, "params": {"id": self.channel, **params},
        }
        return Message(self.rpc_topic, json.dumps(request, separators=(",", ":")))

    def _set(self, energised: bool) -> list[Message]:
        return [self._call("Switch.Set", on=energised)]

    def _pulse(self, energised: bool, seconds: float) -> list[Message]:
        return [self._call("Switch.Set", on=energised, toggle_after=seconds)]

    def poll(self) -> list[Message]:
        return [self._call("Switch.GetStatus")]

    def power_on_query(self) -> list[Message]:
        return [self._call("Switch.GetConfig")]

    def power_on_fix(self, wanted: PowerOn) -> str:
        config = json.dumps({"id": self.channel, "config": {"initial_state":
                                                            _INITIAL_STATES[wanted]}})
        return (f"call Switch.SetConfig {config} on {self.rpc_topic} (web UI: the switch's "
                f"\"Power on default\" / initial state, {_INITIAL_STATES[wanted]})")

    def parse(self, topic: str, payload: bytes) -> Report | None:
        if topic == self.online_topic:
            return Report(online=word(text(payload), "true", "false", "online"))
        data = json_object(payload)
        if topic == self.status_topic:
            return self._output(data, "status")
        if topic == self.events_topic:
            if data.get("method") not in ("NotifyStatus", "NotifyFullStatus"):
                return None  # NotifyEvent (button presses...) says nothing about the output
            status = lookup(data, ("params", self.component))
            return None if status is None else self._output(status, "NotifyStatus")
        if topic == self.reply_topic:
            return self._reply(data)
        raise ParseError(f"not a topic of {self.describe()}")

    def _output(self, status: Any, what: str) -> Report | None:
        if not isinstance(status, dict):
            raise ParseError(f"{what} for {self.component} is not an object")
        if "output" not in status:
            return None  # a change of power or temperature only
        return Report(energised=boolean(status["output"], f"{what} output"))

    def _reply(self, data: dict[str, Any]) -> Report | None:
        request = str(data.get("id", ""))
        number = request.removeprefix(self._id_prefix)
        if number == request or not number.isdigit():
            return None  # a reply to another relay, another process, or an earlier run
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            message = str(error.get("message", "?"))[:80]
            return Report(refused=f"error {error.get('code', '?')}: {message}",
                          answers=int(number))
        result = data.get("result")
        if isinstance(result, dict) and result.get("id") == self.channel and (
                "initial_state" in result):
            return Report(power_on=_initial_state(result["initial_state"]), answers=int(number))
        if isinstance(result, dict) and result.get("id") == self.channel and "output" in result:
            report = self._output(result, "Switch.GetStatus reply")
            return None if report is None else replace(report, answers=int(number))
        return None  # a Switch.Set reply: was_on is the state before, not after


_INITIAL_STATES = {PowerOn.OFF: "off", PowerOn.ON: "on", PowerOn.LAST: "restore_last",
                   PowerOn.MATCH_INPUT: "match_input"}


def _initial_state(value: object) -> PowerOn:
    for setting, name in _INITIAL_STATES.items():
        if value == name:
            return setting
    raise ParseError(f"initial_state must be one of {', '.join(_INITIAL_STATES.values())}, "
                     f"got {str(value)[:20]!r}")
