"""What gasstove answers for each burner of a command: one shape for the daemon's socket
and MQTT result topic, ``--json`` and the CLI's text, whoever acted (the daemon or a
one-shot ``stove``). Which keys are there depends on the kind of answer."""

from __future__ import annotations

from typing import Any, Required, TypedDict

from .relay import RelayState


class Answer(TypedDict, total=False):
    burner: Required[str]
    #: The Stove's action (shut_off, lock, unlock, status, restore), or "timer",
    #: "cancel", "snooze".
    action: Required[str]
    ok: Required[bool]  #: done, and confirmed where a relay is involved
    message: Required[str]  #: what the user reads
    locked: bool
    #: The burner's pending timer (``Timer.as_json``), None when it has none.
    timer: dict[str, Any] | None
    # -- an action on the relay (``Outcome.as_json``, the fields of an Outcome)
    relay: RelayState
    cut_ms: int | None
    restored: bool | None
    sent: bool | None
    failure: str | None  #: on failure, its kind in one word (``Outcome.failure``)
    #: The guard's standing warning of an automatic cut, if any.
    warning: dict[str, Any] | None
    #: What the flame input says: lit, out, unknown or no_input (a one-shot status:
    #: no_daemon, as only the daemon listens to it).
    flame: str
    # -- a timer set
    replaced: bool  #: it replaced one that was pending
