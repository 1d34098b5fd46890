"""The daemon's MQTT surface: command, result, state and availability topics, and
Home Assistant MQTT discovery, as pure data.

Topics under ``<base>`` (default ``gasstove/<stove name>``):

- ``<base>/set`` and ``<base>/<burner>/set``: JSON commands, as on the socket
  (``{"action": "off", "in": "20m"}``); on a burner's topic the burner is implied.
- ``<base>/result``: the answer to every command (QoS 1, not retained).
- ``<base>/<burner>/state``: retained JSON, see :func:`burner_state`.
- ``<base>/availability``: ``online`` / ``offline`` (retained; the LWT says offline).
- ``<base>/alert``: a shut-off that was not confirmed (JSON, QoS 1, not retained).

Discovery follows https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery:
retained configs under ``<prefix>/<component>/<node_id>/<object_id>/config``,
republished when Home Assistant announces ``<prefix>/status`` = ``online``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__
from .commands import Command, parse_command
from .errors import UsageError
from .timers import iso

ONLINE, OFFLINE = "online", "offline"
#: Sources an MQTT command may name itself as.
FRONT_ENDS = ("ha", "voice")
MAX_PAYLOAD = 64 * 1024


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "stove"


@dataclass(frozen=True)
class Remote:
    base: str  #: e.g. gasstove/kitchen
    stove: str
    burners: tuple[str, ...]
    discovery_prefix: str | None = "homeassistant"

    @property
    def command(self) -> str:
        return f"{self.base}/set"

    def burner_command(self, burner: str) -> str:
        return f"{self.base}/{burner}/set"

    @property
    def result(self) -> str:
        return f"{self.base}/result"

    def state(self, burner: str) -> str:
        return f"{self.base}/{burner}/state"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def alert(self) -> str:
        """A failed shut-off, as JSON (QoS 1, not retained)."""
        return f"{self.base}/alert"

    @property
    def ha_status(self) -> str | None:
        return f"{self.discovery_prefix}/status" if self.discovery_prefix else None

    def subscriptions(self) -> tuple[str, ...]:
        topics = [self.command, *(self.burner_command(b) for b in self.burners)]
        if self.ha_status:
            topics.append(self.ha_status)
        return tuple(topics)

    def parse(self, topic: str, payload: bytes, client: str = "") -> Command:
        """The command a message on one of our command topics carries; UsageError if bad."""
        if len(payload) > MAX_PAYLOAD:
            raise UsageError(f"command on {topic} too large ({len(payload)} bytes)")
        try:
            obj = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UsageError(f"command on {topic} is not a JSON object") from None
        if topic != self.command:
            burner = topic[len(self.base) + 1:-len("/set")]
            if not isinstance(obj, dict) or "burners" in obj:
                raise UsageError(f"a command on {topic} is a JSON object without burners")
            obj = {**obj, "burners": [burner]}
        source = "mqtt"
        if isinstance(obj, dict):
            # A front end on MQTT may say which it is (Home Assistant's discovered
            # button says "ha"); it is a label for the history, not a permission.
            said = obj.pop("source", None)
            source = said if said in FRONT_ENDS else "mqtt"
            obj.setdefault("requested_by", client)
        return parse_command(obj, source=source)

    # -- Home Assistant discovery -------------------------------------------------
    def discovery(self, flame_inputs: Iterable[str] = ()) -> list[tuple[str, dict[str, Any]]]:
        """(topic, config) for every entity; empty when discovery is off."""
        if not self.discovery_prefix:
            return []
        node = f"gasstove_{slug(self.stove)}"
        device = {
            "identifiers": [node],
            "name": f"{self.stove} gas stove",
            "manufacturer": "gasstove",
            "model": "flame-failure loop relay",
            "sw_version": __version__,
        }
        flames = set(flame_inputs)
        out: list[tuple[str, dict[str, Any]]] = []
        for burner in self.burners:
            state = self.state(burner)
            common = {
                "device": device,
                "availability": [
                    {"topic": self.availability},
                    {"topic": state,
                     "value_template": "{{ 'online' if value_json.reachable else 'offline' }}"},
                ],
                "availability_mode": "all",
            }
            title = burner.replace("_", " ").capitalize()
            entities: list[tuple[str, str, dict[str, Any]]] = [
                ("button", "shut_off", {
                    "name": f"{title} shut off", "icon": "mdi:fire-off",
                    "command_topic": self.burner_command(burner),
                    "payload_press": json.dumps({"action": "off", "source": "ha"}),
                }),
                ("sensor", "shut_off_at", {
                    "name": f"{title} shut-off at", "device_class": "timestamp",
                    "state_topic": state,
                    # "None" is MQTT sensor's payload for "no value": no timer pending
                    "value_template": "{{ value_json.timer_due or 'None' }}",
                }),
                ("number", "shut_off_in", {
                    "name": f"{title} shut off in", "icon": "mdi:timer-outline",
                    "command_topic": self.burner_command(burner),
                    "command_template": ('{"action": "off", "source": "ha", '
                                         '"delay_s": {{ (value * 60) | int }}}'),
                    "min": 1, "max": 1440, "step": 1, "mode": "box",
                    "unit_of_measurement": "min",
                }),
                ("lock", "lock", {
                    "name": f"{title} lock", "icon": "mdi:stove",
                    "command_topic": self.burner_command(burner),
                    "payload_lock": json.dumps({"action": "lock", "source": "ha"}),
                    "payload_unlock": json.dumps({"action": "unlock", "source": "ha"}),
                    "state_topic": state,
                    "value_template": "{{ 'LOCKED' if value_json.locked else 'UNLOCKED' }}",
                    "state_locked": "LOCKED", "state_unlocked": "UNLOCKED",
                }),
                ("sensor", "relay", {
                    "name": f"{title} relay", "device_class": "enum",
                    "options": ["ready", "locked", "left_cutting", "unknown"],
                    "state_topic": state, "value_template": "{{ value_json.status }}",
                }),
            ]
            entities.append(("binary_sensor", "problem", {
                "name": f"{title} shut-off problem", "device_class": "problem",
                "state_topic": state,
                "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
                # must stay available when the relay is not: that is when it matters
                "availability": [{"topic": self.availability}],
            }))
            if burner in flames:
                entities.append(("binary_sensor", "flame", {
                    "name": f"{title} flame", "device_class": "heat",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if value_json.lit else 'OFF' }}",
                }))
            for component, key, config in entities:
                uid = f"{node}_{burner}_{key}"
                out.append((f"{self.discovery_prefix}/{component}/{node}/{burner}_{key}/config",
                            {"unique_id": uid, "object_id": uid, **common, **config}))
        return out


def burner_state(*, relay: str, reachable: bool, locked: bool, timer_due: float | None,
                 lit: bool | None, problem: str | None = None) -> dict[str, Any]:
    """The retained per-burner state: what a dashboard shows."""
    if relay == "cutting":
        status = "locked" if locked else "left_cutting"
    elif relay == "resting":
        status = "ready"
    else:
        status = "unknown"
    return {
        "status": status, "relay": relay, "reachable": reachable, "locked": locked,
        "timer_due": iso(timer_due) if timer_due is not None else None, "lit": lit,
        # the last shut-off failed; cleared by the next confirmed one
        "problem": problem is not None, "problem_reason": problem,
    }


def remote_for(stove: str, burners: Iterable[str], *, topic: str | None,
               discovery_prefix: str | None) -> Remote:
    return Remote(topic or f"gasstove/{slug(stove)}", stove, tuple(burners), discovery_prefix)


def result_payload(command: Mapping[str, Any] | None, reply: Mapping[str, Any]) -> dict[str, Any]:
    return {**reply, "request": dict(command) if command else None}
