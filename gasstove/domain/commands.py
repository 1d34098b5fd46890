"""Commands as they arrive from outside (socket, MQTT): validated before anything is done.

Both the local socket and the MQTT command topic speak this JSON shape::

    {"action": "off", "burners": ["left"], "in": "20m"}
    {"action": "off", "delay_s": 1200}          # every burner
    {"action": "cancel" | "lock" | "unlock" | "status", "burners": [...]}
    {"action": "snooze", "burners": ["left"], "in": "5m"}   # hold automatic cuts off

An optional ``"id"`` is echoed in the answer, to match answers to commands. An
optional ``"config": {"path": ..., "sha256": ...}`` names the file the caller acts
on: the daemon refuses the command (exit 2) unless it runs those bytes.
Who asked is what the transport can verify (the socket's peer user, "mqtt"
for the broker): a ``"requested_by"`` in the JSON is accepted, for older
clients, and ignored.
Both decode the bytes with :func:`decode_command`, which refuses what no
command looks like (too large, nested too deep) in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .config_source import ConfigSource
from .durations import MAX_DELAY_S, parse_duration
from .errors import UsageError

ACTIONS = ("off", "cancel", "lock", "unlock", "status", "snooze")
ActionName = Literal["off", "cancel", "lock", "unlock", "status", "snooze"]
_KEYS = {"action", "burners", "in", "delay_s", "source", "requested_by", "id", "config"}
MAX_BURNER_WORDS = 64
#: The socket's line and an MQTT payload: a command is far shorter.
MAX_COMMAND_BYTES = 64 * 1024
#: A command is an object of short lists (depth 2). Deeper JSON is refused before
#: anything walks it: Python's json raises RecursionError at ~1000 levels, and a
#: value just under that can still break a repr or a comparison later.
MAX_NESTING = 16


@dataclass(frozen=True)
class Command:
    action: ActionName
    burners: tuple[str, ...] = ()  #: names or aliases as typed; empty means every burner
    delay_s: float | None = None
    source: str = "socket"
    requested_by: str = ""  #: verified by the transport: "uid 1000 alice", "mqtt"
    id: str = ""  #: the caller's correlation id, echoed in the answer
    #: The configuration file the caller acts on: refused unless the daemon runs it.
    config: ConfigSource | None = None


def decode_command(data: bytes, what: str = "command") -> Any:
    """The JSON value of a command's bytes, or a one-line UsageError about ``what``."""
    if len(data) > MAX_COMMAND_BYTES:
        raise UsageError(f"{what} too large ({len(data)} bytes)")
    deep = UsageError(f"{what} is nested more than {MAX_NESTING} deep: not a command")
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError(f"{what} is not a JSON object") from None
    except RecursionError:
        raise deep from None
    # (iterative: a walk that recursed would fail the way json did)
    level, todo = 0, [value]
    while todo:
        level += 1
        if level > MAX_NESTING:
            raise deep
        todo = [child for item in todo if isinstance(item, dict | list)
                for child in (item.values() if isinstance(item, dict) else item)]
    return value


def parse_command(obj: Any, *, source: str, requested_by: str = "") -> Command:
    """A :class:`Command` from decoded JSON, or a one-line :class:`UsageError`."""
    if not isinstance(obj, dict):
        raise UsageError("a command must be a JSON object")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} in command")
    action = obj.get("action")
    if action not in ACTIONS:
        raise UsageError(f"action must be one of {', '.join(ACTIONS)}, not {_short(action)}")
    burners = obj.get("burners", [])
    if isinstance(burners, str):
        burners = [burners]
    if (not isinstance(burners, list) or len(burners) > MAX_BURNER_WORDS
            or not all(isinstance(b, str) and 0 < len(b) <= 64 for b in burners)):
        raise UsageError("burners must be a list of burner names")
    delay = _delay(obj)
    if delay is not None and action not in ("off", "snooze"):
        raise UsageError(f"a delay only goes with action off or snooze, not {action}")
    if delay is None and action == "snooze":
        raise UsageError("a snooze needs how long: in (\"5m\") or delay_s")
    ident = obj.get("id", "")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or len(str(ident)) > 64:
        raise UsageError("id must be a short string or number")
    config = ConfigSource.from_json(obj["config"]) if "config" in obj else None
    return Command(action, tuple(burners), delay, source, requested_by, str(ident), config)


def _delay(obj: dict[str, Any]) -> float | None:
    if "in" in obj and "delay_s" in obj:
        raise UsageError("give either in or delay_s, not both")
    if "in" in obj:
        if not isinstance(obj["in"], str):
            raise UsageError("in must be a duration such as \"20m\"")
        return parse_duration(obj["in"])
    if "delay_s" in obj:
        value = obj["delay_s"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise UsageError("delay_s must be a number of seconds")
        if not 1 <= value <= MAX_DELAY_S:
            raise UsageError(f"delay_s must be between 1 and {MAX_DELAY_S}")
        return float(value)
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
