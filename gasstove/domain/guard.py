"""The stove guard's brain: when a burner is to be shut off by itself, and what to
announce before. Pure: the daemon feeds it what its inputs say and the clock, and
does what it answers (issue 16).

Automatic cuts, each announced ``warn_before`` ahead:

- ``timer``: a shut-off timer someone set (the daemon's timers fire it; the guard
  only warns of it);
- ``max_burn``: a burner lit (flame input) for its ``max_burn``;
- ``inactivity``: a burner lit while nobody has been present for ``away_after``
  (presence input). Lighting a burner takes a hand on the knob: it counts as
  presence, so the count starts at the later of "lit" and "everyone gone".

A snooze pushes a burner's timer and inactivity cut back, never past its maximum
burn (the hard limit). A hazard input going active means: cut and lock every
burner now, no grace.

Times are the daemon's monotonic seconds: a wall-clock jump neither fires nor
delays anything. Retained messages are stale by nature (their age is unknown):
a retained "present" is not taken as someone in the kitchen, a retained hazard
"clear" never clears an alarm, while a retained "alarm" cuts at once (the safe
side either way).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .durations import format_duration

# The guard's configuration (pydantic models) lives apart: every configuration holds
# it, while this brain only runs in the daemon (re-exported for its users).
from .guard_config import HAZARD_WORDS as HAZARD_WORDS
from .guard_config import GuardConfig as GuardConfig
from .guard_config import HazardInput as HazardInput
from .guard_config import PresenceInput as PresenceInput

Reason = Literal["timer", "max_burn", "inactivity"]
#: After a guard cut that was not confirmed, it is tried again this much later
#: (as long as the burner is still reported lit), announced again.
RETRY_S = 60.0
#: Waits between tries to lock a burner a hazard alarm asked to lock, while it fails.
HAZARD_RETRY_S: tuple[float, ...] = (5.0, 15.0, 60.0)


@dataclass(frozen=True)
class Pending:
    """The next automatic cut of one burner."""

    burner: str
    reason: Reason
    at: float  #: monotonic
    #: The limit it follows from: max_burn or away_after (seconds); for a timer, None.
    limit: float | None = None

    def seconds_left(self, now: float) -> int:
        return max(0, math.ceil(self.at - now - 1e-6))


@dataclass(frozen=True)
class Look:
    """One burner's answer from :meth:`Guard.look`."""

    pending: Pending | None
    warn: bool  #: announce ``pending`` now
    due: bool  #: the guard cuts now
    wake: float | None  #: when to look again at the latest (monotonic)


class SnoozeRefused(ValueError):
    """A snooze that cannot be given (one line, for the user)."""


@dataclass
class _Burner:
    max_burn: float | None
    has_flame: bool
    lit: bool | None = None
    lit_since: float | None = None
    timer_at: float | None = None
    snoozed_until: float | None = None
    retry_at: float | None = None
    cutting: bool = False


@dataclass
class _Hazard:
    active: bool | None = None  #: None: not heard live since start
    online: bool | None = None


@dataclass
class Guard:
    """The state the guard decides on, fed by the daemon."""

    config: GuardConfig
    burners: dict[str, _Burner]
    started: float
    present: bool | None = None  #: None: not heard live since start
    away_since: float | None = None
    hazards: list[_Hazard] = field(default_factory=list)

    @classmethod
    def new(cls, config: GuardConfig, burners: Mapping[str, tuple[float | None, bool]],
            now: float) -> Guard:
        """``burners``: name -> (max_burn, has a flame input)."""
        return cls(config, {n: _Burner(m, f) for n, (m, f) in burners.items()}, now,
                   away_since=now, hazards=[_Hazard() for _ in config.hazards])

    # -- inputs -------------------------------------------------------------------
    def flame(self, burner: str, lit: bool, now: float) -> bool:
        """The burner's flame input said lit or out; whether that changed anything."""
        b = self.burners[burner]
        if lit == b.lit:
            return False
        b.lit = lit
        b.lit_since = now if lit else None
        b.snoozed_until = b.retry_at = None
        return True

    def presence(self, present: bool, now: float, *, retained: bool) -> bool:
        if retained:
            return False  # of unknown age: "away since start" stands (see module doc)
        if present == self.present:
            return False
        self.present = present
        self.away_since = None if present else now
        return True

    def timer(self, burner: str, at: float | None) -> None:
        self.burners[burner].timer_at = at

    def hazard(self, index: int, alarm: bool, *, retained: bool) -> Literal["alarm", "clear"] | None:
        """A hazard input's report: "alarm" means cut and lock everything now."""
        h = self.hazards[index]
        if alarm and h.active is not True:
            h.active = True
            return "alarm"
        if not alarm and not retained and h.active is not False:
            was, h.active = h.active, False
            return "clear" if was else None
        return None

    def hazard_online(self, index: int, online: bool) -> bool:
        h = self.hazards[index]
        changed, h.online = h.online != online, online
        return changed

    # -- snooze and cuts ------------------------------------------------------------
    def max_burn_at(self, burner: str) -> float | None:
        b = self.burners[burner]
        if b.max_burn is None or not b.lit or b.lit_since is None:
            return None
        return b.lit_since + b.max_burn

    def snooze(self, burner: str, seconds: float, now: float) -> tuple[float, str]:
        """Hold the burner's automatic cuts off until now + seconds (bounded by its
        maximum burn); the instant given and a note when it was bounded."""
        until, note = now + seconds, ""
        limit = self.max_burn_at(burner)
        if limit is not None and until > limit:
            if limit - now < 1:
                raise SnoozeRefused(
                    f"{burner} reaches its maximum burn time ("
                    f"{format_duration(self.burners[burner].max_burn or 0)}) now: it cannot be "
                    "pushed back (raise max_burn in the configuration)")
            until = limit
            note = (f"only {format_duration(round(limit - now))}: its maximum burn time "
                    f"({format_duration(self.burners[burner].max_burn or 0)}) is the limit")
        b = self.burners[burner]
        b.snoozed_until = max(until, b.snoozed_until or until)  # a shorter one does not shorten
        return b.snoozed_until, note

    def cut_started(self, burner: str) -> None:
        self.burners[burner].cutting = True

    def cut_done(self, burner: str, confirmed: bool, now: float) -> None:
        """A guard cut ended. Confirmed: every count starts again, as if relit now (a
        temperature input takes a while to say out). Not: tried again in RETRY_S."""
        b = self.burners[burner]
        b.cutting = False
        b.snoozed_until = None
        if confirmed:
            b.retry_at = None
            if b.lit:
                b.lit_since = now
        else:
            b.retry_at = now + RETRY_S

    # -- what is due ------------------------------------------------------------------
    def pending(self, burner: str) -> Pending | None:
        """The burner's next automatic cut, if any."""
        b = self.burners[burner]
        found: list[Pending] = []
        if b.timer_at is not None:
            found.append(Pending(burner, "timer", max(b.timer_at, b.snoozed_until or 0)))
        limit = self.max_burn_at(burner)
        if limit is not None:
            found.append(Pending(burner, "max_burn", max(limit, b.retry_at or 0), b.max_burn))
        if (b.lit and b.lit_since is not None and self.config.presence is not None
                and self.away_since is not None):
            at = max(b.lit_since, self.away_since) + self.config.away_after
            at = max(at, b.snoozed_until or 0, b.retry_at or 0)
            found.append(Pending(burner, "inactivity", at, self.config.away_after))
        return min(found, key=lambda p: p.at, default=None)

    def look(self, burner: str, now: float) -> Look:
        """What is due for one burner now: its next cut, whether to announce it, whether
        the guard cuts now (a timer fires by itself), and when this answer changes next."""
        p = self.pending(burner)
        if p is None:
            return Look(None, warn=False, due=False, wake=None)
        warn_at = p.at - self.config.warn_before
        # A timer fires by itself and tells the guard: nothing to look at when it is due
        # (ten thousand timers due at once must not also cost ten thousand looks then).
        cut_at = None if p.reason == "timer" else p.at
        return Look(p, warn=self.config.warn_before > 0 and warn_at <= now,
                    due=cut_at is not None and not self.burners[burner].cutting and cut_at <= now,
                    wake=min((t for t in (warn_at, cut_at) if t is not None and t > now),
                             default=None))

    def ended(self, burner: str, p: Pending) -> str:
        """Why the warning of ``p``, shown before, is withdrawn now (it was not cut)."""
        b = self.burners[burner]
        if p.reason != "timer" and not b.lit:
            return "the burner is out"
        if p.reason == "inactivity" and self.present:
            return "someone is in the kitchen"
        if b.snoozed_until is not None or (p.reason == "timer" and b.timer_at is not None):
            return "snoozed"
        return "cancelled" if p.reason == "timer" else "no longer due"

    def hazard_active(self) -> list[int]:
        return [i for i, h in enumerate(self.hazards) if h.active]


def warning_text(p: Pending, seconds_left: int, title: str) -> str:
    """What a person hears: "Left burner shuts off in 60 s: nobody in the kitchen for 10 min"."""
    return f"{title} shuts off in {format_duration(seconds_left or 1)}: {why(p.reason, p.limit)}"


def why(reason: str, limit: float | None) -> str:
    if reason == "inactivity":
        return f"nobody in the kitchen for {format_duration(limit or 0)}"
    if reason == "max_burn":
        return f"lit for {format_duration(limit or 0)}, its maximum burn time"
    return "its timer"


def cut_text(reason: str, title: str, limit: float | None) -> str:
    """The note after a cut: "Left burner shut off after 10 min with nobody in the kitchen"."""
    if reason == "inactivity":
        return f"{title} shut off after {format_duration(limit or 0)} with nobody in the kitchen"
    if reason == "max_burn":
        return f"{title} shut off: lit for {format_duration(limit or 0)}, its maximum burn time"
    if reason == "timer":
        return f"{title} shut off by its timer"
    return f"{title} shut off and locked: {reason}"


def title(burner: str) -> str:
    return f"{burner.replace('_', ' ').capitalize()} burner"


def what_it_knows(config: GuardConfig, burners: Mapping[str, tuple[bool, float | None]],
                  on_cut: bool) -> list[str]:
    """What each guard needs and what it can and cannot know, for `stove check`.
    ``burners``: name -> (has a flame input, max_burn)."""
    lines = [f"warnings {format_duration(config.warn_before)} before every automatic "
             "shut-off (timer, maximum burn, nobody in the kitchen)" if config.warn_before
             else "warnings off (warn_before 0): automatic shut-offs come unannounced"]
    if config.presence is not None:
        lines.append(f"presence {config.presence.topic}: a lit burner is shut off after "
                     f"{format_duration(config.away_after)} with nobody in the kitchen")
    else:
        lines.append("no presence input (guard.presence): no shut-off for an empty kitchen")
    for h in config.hazards:
        lines.append(f"{h.label()}: cuts and locks every burner at once"
                     + ("" if h.availability else
                        "; no availability topic: cannot tell when it is offline"))
    if not config.hazards:
        lines.append("no hazard input (guard.hazards): nothing cuts on smoke, CO, gas or heat")
    for name, (flame, max_burn) in burners.items():
        if flame:
            acts = ["status says lit or out"]
            acts.append(f"max_burn {format_duration(max_burn)}" if max_burn else "no max_burn")
            if config.presence is not None:
                acts.append("inactivity cut")
            lines.append(f"{name}: flame input: " + ", ".join(acts))
        else:
            lines.append(f"{name}: no flame input: cannot know whether it is lit, so no "
                         "maximum burn, no cut for an empty kitchen, and status cannot say "
                         "lit or out (timers and hazard alarms still cut it)")
    if not on_cut:
        lines.append("no alerts.on_cut: automatic cuts are noted on MQTT and in the history only")
    return lines
