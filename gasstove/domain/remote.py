"""The daemon's MQTT surface: command, result, state and availability topics, and
Home Assistant MQTT discovery, as pure data.

Topics under ``<base>`` (default ``gasstove/<stove name>``):

- ``<base>/set`` and ``<base>/<burner>/set``: JSON commands, as on the socket
  (``{"action": "off", "in": "20m"}``); on a burner's topic the burner is implied.
- ``<base>/result``: the answer to every command (QoS 1, not retained).
- ``<base>/say``: an utterance, as text or JSON ``{"text", "lang", "id"}`` (Node-RED,
  Xiao AI bridges); ``<base>/say/result``: what was understood, what was done and the
  sentence to say back (QoS 1, not retained). See :mod:`.voice.say`.
- ``<base>/<burner>/state``: retained JSON, see :func:`burner_state`.
- ``<base>/availability``: ``online`` / ``offline`` (retained; the LWT says offline).
- ``<base>/alert``: a shut-off that was not confirmed (JSON, QoS 1, not retained).
- ``<base>/warning``: the stove guard announces an automatic cut (``active: true``,
  burner, reason, seconds_left, cut_at, message) or withdraws it (``active: false``).
  Not retained: a text-to-speech automation must never speak a stale one on
  reconnect; the standing warning is also in each burner's retained state, with an
  absolute ``cut_at``, and goes unavailable with the daemon (its LWT).
- ``<base>/event``: a note of every automatic cut and guard event (timer, max_burn,
  inactivity, hazard, hazard_clear, hazard_offline; JSON, QoS 1, not retained).
- ``<base>/guard``: retained JSON, what the guard knows (presence, hazard inputs).

Discovery follows https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery:
retained configs under ``<prefix>/<component>/<node_id>/<object_id>/config``,
republished when Home Assistant announces ``<prefix>/status`` = ``online``;
at start, retained configs and states of ours that we no longer serve (a burner
removed or renamed) are emptied, so no ghost entity is left in Home Assistant.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__
from .commands import Command, decode_command, parse_command
from .errors import UsageError
from .relay import RelayState
from .timers import iso

ONLINE, OFFLINE = "online", "offline"
#: Sources an MQTT command may name itself as.
FRONT_ENDS = ("ha", "voice")


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

    @property
    def say(self) -> str:
        return f"{self.base}/say"

    @property
    def say_result(self) -> str:
        return f"{self.base}/say/result"

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
    def warning(self) -> str:
        return f"{self.base}/warning"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def guard(self) -> str:
        return f"{self.base}/guard"

    @property
    def ha_status(self) -> str | None:
        return f"{self.discovery_prefix}/status" if self.discovery_prefix else None

    def command_topics(self) -> tuple[str, ...]:
        return (self.command, *(self.burner_command(b) for b in self.burners))

    def subscriptions(self) -> tuple[str, ...]:
        topics = list(self.command_topics())
        if self.ha_status:
            topics.append(self.ha_status)
        return tuple(topics)

    def parse(self, topic: str, payload: bytes) -> Command:
        """The command a message on one of our command topics carries; UsageError if bad."""
        obj = decode_command(payload, f"command on {topic}")
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
        # MQTT does not tell who published: all we know is that it came over the broker
        return parse_command(obj, source=source, requested_by="mqtt")

    # -- Home Assistant discovery -------------------------------------------------
    @property
    def node(self) -> str:
        """The discovery node id and the device's identifier."""
        return f"gasstove_{slug(self.stove)}"

    def entity_id(self, component: str, burner: str, key: str) -> str:
        """The entity id Home Assistant gives an entity we discover (see :meth:`discovery`)."""
        return f"{component}.{slug(f'{self.stove}_{burner}_{key}')}"

    def discovery(self, flame_inputs: Iterable[str] = (), *,
                  hazards: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """(topic, config) for every entity; empty when discovery is off.

        Every entity is available exactly when the daemon is (its LWT): a shut-off
        control tied to a relay's reachability would be skipped by Home Assistant
        without a word while the relay is down, and a press must reach the daemon,
        fail within the deadline and raise the alert (docs/design.md §2, rule 2). The
        relay's reachability is an entity of its own.

        The entity id is given twice, for every Home Assistant version: ``object_id``
        (honoured up to 2026.3, deprecated since 2025.10) and ``default_entity_id``
        (its replacement since 2025.10, domain included). Home Assistant uses either
        only when it first creates the entity; after that the registry keeps it by
        ``unique_id``, so ids never change under a user's automations.
        """
        if not self.discovery_prefix:
            return []
        device = {
            "identifiers": [self.node],
            "name": f"{self.stove} gas stove",
            "manufacturer": "gasstove",
            "model": "flame-failure loop relay",
            "sw_version": __version__,
        }
        flames = set(flame_inputs)
        out: list[tuple[str, dict[str, Any]]] = []
        for burner in self.burners:
            state, command = self.state(burner), self.burner_command(burner)
            title = burner.replace("_", " ").capitalize()
            entities: list[tuple[str, str, dict[str, Any]]] = [
                ("button", "shut_off", {
                    "name": f"{title} shut off", "icon": "mdi:fire-off",
                    "command_topic": command,
                    "payload_press": json.dumps({"action": "off", "source": "ha"}),
                }),
                ("number", "shut_off_in", {
                    "name": f"{title} shut off in", "icon": "mdi:timer-outline",
                    "command_topic": command,
                    # 0 cancels; the value shown is the daemon's: the minutes left
                    "command_template": (
                        '{% if value | int(0) <= 0 %}{"action": "cancel", "source": "ha"}'
                        '{% else %}{"action": "off", "source": "ha", '
                        '"delay_s": {{ (value * 60) | int }}}{% endif %}'),
                    "state_topic": state,
                    "value_template": "{{ value_json.timer_minutes or 0 }}",
                    "min": 0, "max": 1440, "step": 1, "mode": "box",
                    "unit_of_measurement": "min",
                }),
                ("button", "cancel_timer", {
                    "name": f"{title} cancel timer", "icon": "mdi:timer-off-outline",
                    "command_topic": command,
                    "payload_press": json.dumps({"action": "cancel", "source": "ha"}),
                }),
                ("sensor", "shut_off_at", {
                    "name": f"{title} shut off at", "device_class": "timestamp",
                    "state_topic": state,
                    # "None" is MQTT sensor's payload for "no value": no timer pending
                    "value_template": "{{ value_json.timer_due or 'None' }}",
                }),
                ("lock", "lock", {
                    # no icon: Home Assistant's own lock icons show the state
                    "name": f"{title} lock",
                    "command_topic": command,
                    "payload_lock": json.dumps({"action": "lock", "source": "ha"}),
                    "payload_unlock": json.dumps({"action": "unlock", "source": "ha"}),
                    "state_topic": state,
                    "value_template": "{{ 'LOCKED' if value_json.locked else 'UNLOCKED' }}",
                    "state_locked": "LOCKED", "state_unlocked": "UNLOCKED",
                }),
                ("binary_sensor", "shut_off_problem", {
                    "name": f"{title} shut off problem", "device_class": "problem",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
                }),
                ("sensor", "relay", {
                    "name": f"{title} relay", "device_class": "enum",
                    "entity_category": "diagnostic", "icon": "mdi:electric-switch",
                    "options": list(RELAY_STATUS.values()),
                    "state_topic": state,
                    # never-read is Home Assistant's own "unknown" ("None")
                    "value_template": (
                        "{{ " + json.dumps(RELAY_STATUS) + ".get(value_json.status, 'None') }}"),
                }),
                ("binary_sensor", "relay_connection", {
                    "name": f"{title} relay connection", "device_class": "connectivity",
                    "entity_category": "diagnostic",
                    "state_topic": state,
                    # not read yet (null) is Home Assistant's own "unknown"
                    "value_template": ("{{ 'None' if value_json.reachable is none else "
                                       "'ON' if value_json.reachable else 'OFF' }}"),
                }),
            ]
            entities += [
                ("sensor", "shut_off_warning", {
                    # what a text-to-speech automation says; "None": no warning standing
                    "name": f"{title} shut off warning", "icon": "mdi:alarm-light-outline",
                    "state_topic": state,
                    "value_template": "{{ value_json.warning.message if value_json.warning "
                                      "else 'None' }}",
                }),
                ("button", "snooze", {
                    "name": f"{title} five more minutes", "icon": "mdi:timer-plus-outline",
                    "command_topic": command,
                    "payload_press": json.dumps({"action": "snooze", "in": "5m",
                                                 "source": "ha"}),
                }),
            ]
            if burner in flames:
                entities.append(("binary_sensor", "flame", {
                    "name": f"{title} flame", "device_class": "heat",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if value_json.lit else 'OFF' }}",
                }))
            for component, key, config in entities:
                entity_id = self.entity_id(component, burner, key)
                out.append((self._config_topic(component, burner, key), {
                    "unique_id": f"{self.node}_{burner}_{key}",
                    "object_id": entity_id.split(".", 1)[1],
                    "default_entity_id": entity_id,
                    "device": device,
                    "availability_topic": self.availability,
                    **config,
                }))
        if hazards:
            out.append((f"{self.discovery_prefix}/binary_sensor/{self.node}/hazard/config", {
                "unique_id": f"{self.node}_hazard", "object_id": f"{slug(self.stove)}_hazard",
                "default_entity_id": f"binary_sensor.{slug(self.stove)}_hazard",
                "device": device, "availability_topic": self.availability,
                "name": "Hazard alarm", "device_class": "safety", "state_topic": self.guard,
                "value_template": "{{ 'ON' if value_json.hazards | selectattr('active') "
                                  "| list else 'OFF' }}",
            }))
        return out

    def _config_topic(self, component: str, burner: str, key: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node}/{burner}_{key}/config"

    def leftover_patterns(self) -> tuple[str, ...]:
        """Wildcards for every retained message of ours: discovery configs and states,
        including those of burners (or entities) we no longer serve."""
        patterns = [f"{self.base}/+/state"]
        if self.discovery_prefix:
            patterns.append(f"{self.discovery_prefix}/+/{self.node}/+/config")
        return tuple(patterns)

    def leftovers(self, retained: Iterable[str], flame_inputs: Iterable[str] = (), *,
                  hazards: bool = False) -> list[str]:
        """The retained topics among ``retained`` that nothing we serve now publishes:
        ghosts of a removed or renamed burner, or of an entity we no longer discover."""
        ours = {topic for topic, _ in self.discovery(flame_inputs, hazards=hazards)}
        ours.update(self.state(burner) for burner in self.burners)
        # configs first: an entity still subscribed to an emptied state logs template errors
        return sorted(set(retained) - ours, key=lambda topic: (topic.endswith("/state"), topic))


#: The relay sensor's states, as Home Assistant shows them (``status`` -> text).
#: MQTT discovery cannot carry translations: these are plain English.
RELAY_STATUS = {
    "ready": "Ready",
    "cutting": "Cutting",
    "locked": "Locked",
    "left_cutting": "Left cutting",
    "unreachable": "Unreachable",
}


def burner_state(*, relay: RelayState, reachable: bool | None, locked: bool, timer_due: float | None,
                 lit: bool | None, problem: str | None = None, cutting: bool = False,
                 now: float | None = None, warning: Mapping[str, Any] | None = None,
                 ) -> dict[str, Any]:
    """The retained per-burner state: what a dashboard shows.

    ``cutting``: a shut-off of this burner is under way (its pulse is not a relay
    left cutting); ``now`` (wall clock) gives the whole minutes left on a timer;
    ``warning``: the guard's standing warning of an automatic cut (its ``cut_at`` is
    absolute, so a state read late is not read as a fresh countdown).
    """
    if relay == "cutting":
        status = "locked" if locked else "cutting" if cutting else "left_cutting"
    elif relay == "resting":
        status = "ready"
    else:
        status = "unreachable" if reachable is False else "unknown"
    minutes = minutes_left(timer_due, now) if timer_due is not None and now is not None else None
    return {
        "status": status, "relay": relay, "reachable": reachable, "locked": locked,
        "timer_due": iso(timer_due) if timer_due is not None else None,
        "timer_minutes": minutes, "lit": lit,
        # the last shut-off failed; cleared by the next confirmed one
        "problem": problem is not None, "problem_reason": problem,
        "warning": None if warning is None else {
            k: warning[k] for k in ("reason", "cut_at", "message")},
    }


def minutes_left(due: float, now: float) -> int:
    """Whole minutes left until ``due``, rounded up (what a countdown shows), never negative."""
    return max(0, math.ceil((due - now) / 60))


def remote_for(stove: str, burners: Iterable[str], *, topic: str | None,
               discovery_prefix: str | None) -> Remote:
    return Remote(topic or f"gasstove/{slug(stove)}", stove, tuple(burners), discovery_prefix)


def result_payload(command: Mapping[str, Any] | None, reply: Mapping[str, Any]) -> dict[str, Any]:
    return {**reply, "request": dict(command) if command else None}
