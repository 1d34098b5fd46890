"""The stove guard in Home Assistant: the library's :class:`gasstove.domain.guard.Guard`,
fed from Home Assistant's entities and clock, doing what it answers (issue 16).

One policy: when a burner is cut (maximum burn, nobody in the kitchen), when that is
announced (``warn_before`` ahead, timers too), how far a snooze may push it, what a
hazard alarm does and what a retained report means are the library's, as for
``stove serve`` (gasstove/daemon/guard.py); this module is the I/O around it.

- Inputs: the flame inputs (flame.py), a presence entity (a motion/occupancy/presence
  binary sensor, a person or device tracker: on/home is someone there), hazard binary
  sensors (smoke, CO, gas, heat), the stove's own timers.
- What is read at set-up (Home Assistant starting, the entry reloaded) is taken as the
  library takes a retained message, of unknown age: a hazard already "on" cuts and locks
  at once, a presence already "on" is not taken as someone in the kitchen (the count
  runs from the start until a live report).
- Unavailable or unknown: a presence entity that was "someone there" and drops off
  counts as nobody from then (a dead sensor must not keep a forgotten burner burning);
  a hazard sensor that drops off is warned of (log, notification), never cut on, and
  an alarm it raised stands. Both are logged at WARNING.
- Warnings: ``gasstove_warning`` (start and end), each burner's "shut-off warning"
  sensor, a persistent notification (option). None of them is awaited by a cut: a
  warning nobody sees does not hold it back.
- Notes: ``gasstove_automatic_shut_off`` after every automatic cut (timer too) and
  every hazard lock, in Home Assistant's language; the logbook shows it.

Times are the event loop's monotonic clock (``loop.time()``), as the library asks: a
wall-clock step neither fires nor delays a cut.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.const import (
    STATE_HOME,
    STATE_NOT_HOME,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import CALLBACK_TYPE, Context, Event, State, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_call_later, async_track_state_change_event
from homeassistant.util import dt as dt_util

from gasstove import (
    HAZARD_RETRY_S,
    RETRY_S,
    Guard,
    GuardConfig,
    HazardInput,
    Outcome,
    Pending,
    PresenceInput,
    SnoozeRefused,
    cut_confirmed,
    shut_off_with_retries,
    spoken_duration,
)

from .const import (
    CONF_AWAY_AFTER,
    CONF_HAZARDS,
    CONF_NOTIFY,
    CONF_PRESENCE,
    CONF_WARN_BEFORE,
    DEFAULT_AWAY_AFTER_MINUTES,
    DEFAULT_WARN_BEFORE_S,
    DOMAIN,
    EVENT_AUTOMATIC_SHUT_OFF,
    EVENT_WARNING,
)
from .words import join_names, language, text

if TYPE_CHECKING:
    from .coordinator import GasStoveCoordinator, Timer

_LOGGER = logging.getLogger(__name__)

#: Home Assistant's device classes of a hazard binary sensor -> the library's kinds.
HAZARD_KINDS = {"smoke": "smoke", "carbon_monoxide": "co", "gas": "gas", "heat": "heat"}
PRESENT = {STATE_ON: True, STATE_HOME: True, STATE_OFF: False, STATE_NOT_HOME: False}
#: The library's words for why a warning was withdrawn -> our translation keys.
ENDED = {"the burner is out": "out", "someone is in the kitchen": "present",
         "snoozed": "snoozed", "cancelled": "cancelled", "no longer due": "no_longer_due"}


def guard_config(options: dict[str, Any], kinds: dict[str, str]) -> GuardConfig:
    """The library's guard settings from the entry's options (entity ids stand where the
    daemon has MQTT topics); ``kinds``: each hazard entity's kind."""
    presence = options.get(CONF_PRESENCE)
    return GuardConfig(
        presence=PresenceInput(topic=presence) if presence else None,
        away_after=float(options.get(CONF_AWAY_AFTER, DEFAULT_AWAY_AFTER_MINUTES)) * 60,
        warn_before=float(options.get(CONF_WARN_BEFORE, DEFAULT_WARN_BEFORE_S)),
        hazards=[HazardInput(topic=e, kind=kinds.get(e, "smoke"))  # type: ignore[arg-type]
                 for e in options.get(CONF_HAZARDS, [])],
    )


@dataclass
class Shown:
    """A warning as announced: what its sensor shows."""

    pending: Pending
    cut_at: datetime
    message: str


class HassGuard:
    def __init__(self, coordinator: GasStoveCoordinator) -> None:
        self.coordinator = coordinator
        self.hass = hass = coordinator.hass
        options = dict(coordinator.entry.options)
        registry = er.async_get(hass)
        kinds = {}
        for entity_id in options.get(CONF_HAZARDS, []):
            item = registry.async_get(entity_id)
            state = hass.states.get(entity_id)
            device_class = (item and (item.device_class or item.original_device_class)) or (
                state and state.attributes.get("device_class"))
            kinds[entity_id] = HAZARD_KINDS.get(str(device_class), "smoke")
        self.config = guard_config(options, kinds)
        self.notify = bool(options.get(CONF_NOTIFY, False))
        flames = coordinator.flames
        self.guard = Guard.new(self.config, {n: (flames.max_burn.get(n), n in flames.inputs)
                                             for n in coordinator.config.burners}, self._now())
        #: The warnings as last announced, by burner.
        self.shown: dict[str, Shown] = {}
        #: Burners a hazard alarm locked: only a person unlocks them.
        self.hazard_locked: set[str] = set()
        self._wakes: dict[str, CALLBACK_TYPE] = {}
        self._timer_due: dict[str, datetime | None] = {}
        self._unsubs: list[CALLBACK_TYPE] = []
        self._closing = False
        flames.seen.append(self._flame)

    def _now(self) -> float:
        return self.hass.loop.time()

    def _wall(self, at: float) -> datetime:
        return dt_util.utcnow() + timedelta(seconds=at - self._now())

    # -- life cycle ---------------------------------------------------------------
    @callback
    def start(self) -> None:
        hass = self.hass
        self._unsubs.append(self.coordinator.async_add_listener(self._timers_changed))
        self._timers_changed()
        if self.config.presence is not None:
            entity = self.config.presence.topic
            self._presence(hass.states.get(entity), initial=True)

            @callback
            def presence_changed(event: Event) -> None:
                self._presence(event.data.get("new_state"), initial=False)

            self._unsubs.append(async_track_state_change_event(hass, [entity], presence_changed))
        for index, hazard in enumerate(self.config.hazards):
            self._hazard(index, hass.states.get(hazard.topic), initial=True)
        if self.config.hazards:
            by_entity = {h.topic: i for i, h in enumerate(self.config.hazards)}

            @callback
            def hazard_changed(event: Event) -> None:
                self._hazard(by_entity[event.data["entity_id"]], event.data.get("new_state"),
                             initial=False)

            self._unsubs.append(async_track_state_change_event(hass, list(by_entity), hazard_changed))
        self._look(*self.guard.burners)

    @callback
    def stop(self) -> None:
        self._closing = True
        for unsub in (*self._unsubs, *self._wakes.values()):
            unsub()
        self._unsubs.clear()
        self._wakes.clear()

    # -- inputs -------------------------------------------------------------------
    @callback
    def _flame(self, burner: str, lit: bool, age: float) -> None:
        if self.guard.flame(burner, lit, self._now() - age):
            self._look(burner)

    @callback
    def _presence(self, state: State | None, *, initial: bool) -> None:
        said: bool | None = None
        if state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            # A zone counts the people in it; a person in any other zone is away.
            said = PRESENT.get(state.state, state.state.isdigit() and int(state.state) > 0)
        if said is None:
            if self.guard.present:
                _LOGGER.warning("%s: the presence input %s is %s: counted as nobody in the "
                                "kitchen from now", self.coordinator.entry.title,
                                self.config.presence and self.config.presence.topic,
                                state.state if state else "missing")
                said = False
            else:
                return
        if self.guard.presence(said, self._now(), retained=initial):
            _LOGGER.info("%s: %s", self.coordinator.entry.title,
                         "someone in the kitchen" if said else "nobody in the kitchen")
            self._look(*self.guard.burners)

    @callback
    def _hazard(self, index: int, state: State | None, *, initial: bool) -> None:
        hazard = self.config.hazards[index]
        alarm = None if state is None else {STATE_ON: True, STATE_OFF: False}.get(state.state)
        if self.guard.hazard_online(index, alarm is not None) and alarm is None and not initial:
            # A sensor that went away is not a fire: warned of, never cut on.
            _LOGGER.warning("%s: the hazard sensor %s is %s: the guard cannot hear it",
                            self.coordinator.entry.title, hazard.topic,
                            state.state if state else "missing")
            persistent_notification.async_create(
                self.hass, text(self.hass, "notify_hazard_offline", stove=self.coordinator.entry.title,
                                sensor=self._sensor_name(hazard.topic)),
                title=text(self.hass, "notify_guard_title"),
                notification_id=f"{DOMAIN}_{self.coordinator.entry.entry_id}_{hazard.topic}_offline")
        if alarm is None:
            return
        change = self.guard.hazard(index, alarm, retained=initial)
        if change == "alarm":
            self._spawn(self._async_hazard_cut(index, initial), f"hazard {hazard.topic}")
        elif change == "clear":
            _LOGGER.warning("%s: %s is clear again; the burners stay locked until a person "
                            "unlocks them", self.coordinator.entry.title, hazard.topic)

    @callback
    def _timers_changed(self) -> None:
        for name, timer in self._armed().items():
            due = timer.due if timer is not None else None
            if due == self._timer_due.get(name):
                continue
            self._timer_due[name] = due
            at = None if due is None else self._now() + (due - dt_util.utcnow()).total_seconds()
            self.guard.timer(name, at)
            self._look(name)

    def _armed(self) -> dict[str, Timer | None]:
        return {n: self.coordinator.timers.get(n) for n in self.guard.burners}

    # -- looking ------------------------------------------------------------------
    @callback
    def _look(self, *names: str) -> None:
        if self._closing:
            return
        now = self._now()
        changed = False
        for name in names:
            look = self.guard.look(name, now)
            changed |= self._announce(name, look.pending if look.warn else None)
            if look.due and look.pending is not None:
                self.guard.cut_started(name)
                self._spawn(self._async_cut(look.pending), f"guard {name}")
            if unsub := self._wakes.pop(name, None):
                unsub()
            if look.wake is not None:
                self._wakes[name] = async_call_later(self.hass, max(0.0, look.wake - now),
                                                     self._waker(name))
        if changed:
            self.coordinator.async_update_listeners()

    def _waker(self, name: str) -> Callable[[datetime], None]:
        @callback
        def woken(_now: datetime) -> None:
            self._wakes.pop(name, None)
            self._look(name)

        return woken

    # -- warnings -----------------------------------------------------------------
    def _announce(self, name: str, pending: Pending | None, ended: str | None = None) -> bool:
        """Announce, re-announce (moved) or withdraw the burner's warning; whether it changed."""
        shown = self.shown.get(name)
        if pending is not None:
            if shown is not None and shown.pending == pending:
                return False
            left = pending.seconds_left(self._now())
            warning = Shown(pending, self._wall(pending.at), self._warning_text(pending, left))
            self.shown[name] = warning
            _LOGGER.warning("%s: %s", self.coordinator.entry.title, warning.message)
            self._tell(name, warning, active=True, seconds_left=left)
            return True
        if shown is None:
            return False
        del self.shown[name]
        key = ended or ENDED.get(self.guard.ended(name, shown.pending), "no_longer_due")
        self._tell(name, shown, active=False, ended=key)
        return True

    def _tell(self, name: str, warning: Shown, *, active: bool, seconds_left: int | None = None,
              ended: str | None = None) -> None:
        try:
            self._tell_everywhere(name, warning, active=active, seconds_left=seconds_left,
                                  ended=ended)
        except Exception:  # a warning that cannot be shown must not hold the cut back
            _LOGGER.exception("%s: the warning of %s could not be given", self.coordinator.entry.title,
                              name)

    def _tell_everywhere(self, name: str, warning: Shown, *, active: bool,
                         seconds_left: int | None, ended: str | None) -> None:
        hass, entry = self.hass, self.coordinator.entry
        burner = self.coordinator.config.display_name(name)
        message = warning.message if active else text(
            hass, "warning_ended", burner=burner, ended=text(hass, f"warning_ended_{ended}"))
        data = {"stove": entry.title, "entry_id": entry.entry_id, "burner": name,
                "burner_name": burner, "reason": warning.pending.reason, "active": active,
                "seconds_left": seconds_left, "cut_at": warning.cut_at.isoformat() if active else None,
                "message": message}
        if not active:
            data["ended"] = ended
        hass.bus.async_fire(EVENT_WARNING, data)
        if self.notify:
            notification_id = f"{DOMAIN}_{entry.entry_id}_{name}_warning"
            if active:
                persistent_notification.async_create(
                    hass, message, title=text(hass, "notify_guard_title"), notification_id=notification_id)
            else:
                persistent_notification.async_dismiss(hass, notification_id)

    def _warning_text(self, p: Pending, left: int) -> str:
        lang = language(self.hass)
        return text(self.hass, f"warning_{p.reason}", burner=self.coordinator.config.display_name(p.burner),
                    left=spoken_duration(max(1, left), lang),
                    limit=spoken_duration(round(p.limit or 0), lang))

    # -- snooze -------------------------------------------------------------------
    async def async_snooze(self, burners: list[str], seconds: float) -> dict[str, tuple[datetime, bool]]:
        """:meth:`async_hold`; a burner at its maximum burn raises ServiceValidationError
        (translated; the others are held off)."""
        done, refused = await self.async_hold(burners, seconds)
        if refused:
            raise ServiceValidationError(
                f"{', '.join(refused)} reached the maximum burn time: cannot be pushed back",
                translation_domain=DOMAIN, translation_key="snooze_refused",
                translation_placeholders={"burners": self.coordinator.names(refused)})
        return done

    async def async_hold(self, burners: list[str], seconds: float
                         ) -> tuple[dict[str, tuple[datetime, bool]], list[str]]:
        """Hold the burners' automatic cuts off for ``seconds``, bounded by their maximum
        burn: each burner's new instant and whether the bound shortened it, and the burners
        at their maximum burn, which refuse it."""
        now = self._now()
        done: dict[str, tuple[datetime, bool]] = {}
        refused: list[str] = []
        moved = False
        for name in burners:
            try:
                until, note = self.guard.snooze(name, seconds, now)
            except SnoozeRefused:
                refused.append(name)
                continue
            done[name] = (self._wall(until), bool(note))
            timer = self.coordinator.timers.get(name)
            if timer is not None and timer.unsub is not None and timer.due < done[name][0]:
                self.coordinator.move_timer(name, done[name][0])
                moved = True
            _LOGGER.info("%s %s: automatic shut-offs held off until %s", self.coordinator.entry.title,
                         name, done[name][0].isoformat())
        if moved:
            await self.coordinator.async_save_timers()
        self._look(*done)
        return done, refused

    # -- cuts ---------------------------------------------------------------------
    async def _async_cut(self, p: Pending) -> None:
        """Maximum burn or inactivity: cut as a due timer is (tries 5 and 15 s apart); not
        confirmed, the library tries again RETRY_S later while the burner is still lit."""
        coordinator, name = self.coordinator, p.burner
        _LOGGER.warning("%s %s: %s: shutting it off", coordinator.entry.title, name, p.reason)

        async def attempt() -> Outcome:
            (outcome,) = await asyncio.shield(self.hass.async_create_task(
                coordinator._async_cut([name], source=p.reason)))
            return outcome

        @callback
        def failed(outcome: Outcome, retry_in: float | None) -> None:
            coordinator._report([outcome], source=p.reason,
                                retry_in=RETRY_S if retry_in is None else retry_in)

        outcome: Outcome | None = None
        try:
            outcome = await shut_off_with_retries(attempt, sleep=coordinator._async_pause,
                                                  failed=failed)
        finally:
            confirmed = outcome is not None and cut_confirmed(outcome)
            self.guard.cut_done(name, confirmed, self._now())
            self._announce(name, None, "shut_off" if confirmed else "failed")
            self._look(name)
        if outcome.ok:
            coordinator._report([outcome], source=p.reason)
        self.note(name, p.reason, p.limit, confirmed)

    @callback
    def timer_done(self, name: str, outcome: Outcome) -> None:
        """The stove's timer fired (coordinator): its warning ends, its note is given."""
        confirmed = cut_confirmed(outcome)
        self._announce(name, None, "shut_off" if confirmed else "failed")
        self.note(name, "timer", None, confirmed)

    @callback
    def note(self, name: str, reason: str, limit: float | None, confirmed: bool) -> None:
        hass = self.hass
        burner = self.coordinator.config.display_name(name)
        message = text(hass, f"note_{reason}" if confirmed else "note_failed", burner=burner,
                       limit=spoken_duration(round(limit or 0), language(hass)))
        self._note({"burner": name, "burner_name": burner, "reason": reason,
                    "confirmed": confirmed, "message": message}, urgent=not confirmed)

    def _note(self, data: dict[str, Any], *, urgent: bool) -> None:
        hass, entry = self.hass, self.coordinator.entry
        _LOGGER.log(logging.WARNING if urgent else logging.INFO, "%s: %s", entry.title, data["message"])
        hass.bus.async_fire(EVENT_AUTOMATIC_SHUT_OFF,
                            {"stove": entry.title, "entry_id": entry.entry_id, **data})
        if self.notify or urgent:
            try:
                persistent_notification.async_create(
                    hass, data["message"], title=text(hass, "notify_guard_title"),
                    notification_id=f"{DOMAIN}_{entry.entry_id}_{data.get('burner') or 'hazard'}_note")
            except Exception:  # the event and the log line above still tell
                _LOGGER.exception("%s: the note could not be shown", entry.title)

    # -- hazards ------------------------------------------------------------------
    async def _async_hazard_cut(self, index: int, initial: bool) -> None:
        """Every burner cut and locked at once, no grace; tried again while a lock fails."""
        hazard = self.config.hazards[index]
        coordinator = self.coordinator
        names = list(coordinator.config.burners)
        _LOGGER.critical("%s: %s ALARM%s: cutting and locking every burner", coordinator.entry.title,
                         hazard.topic, " (on when Home Assistant started)" if initial else "")
        self.hazard_locked.update(names)
        await coordinator.async_save_timers()  # stored with the timers: a restart keeps it
        pauses = iter(HAZARD_RETRY_S)
        pause = 0.0
        todo = names
        first = True
        while todo:
            for name in todo:
                self._announce(name, None, "hazard")
            try:
                # A task of its own that a stop waits for and never cancels.
                await asyncio.shield(self.hass.async_create_task(coordinator.async_lock(todo, True)))
                failed: list[str] = []
            except HomeAssistantError:
                data = coordinator.data or {}
                failed = [n for n in todo if not (n in data and data[n].state == "cutting")]
            done = [n for n in todo if n not in failed]
            now = self._now()
            for name in done:  # a confirmed lock is a cut: every count starts again
                self.guard.cut_done(name, True, now)
            if done or first:
                self._hazard_note(hazard, done, failed)
            first = False
            todo = failed
            if not todo or not self.guard.hazards[index].active or self._closing:
                return
            pause = next(pauses, pause)
            await coordinator._async_pause(pause)

    def _hazard_note(self, hazard: HazardInput, done: list[str], failed: list[str]) -> None:
        hass = self.hass
        alarm = text(hass, f"hazard_{hazard.kind}")
        sensor = self._sensor_name(hazard.topic)
        message = text(hass, "note_hazard", alarm=alarm, sensor=sensor,
                       burners=self.coordinator.names(done)) if done else ""
        if failed:
            message = " ".join(filter(None, [message, text(
                hass, "note_hazard_failed", alarm=alarm, sensor=sensor,
                burners=self.coordinator.names(failed))]))
        self._note({"burner": None, "burners": done, "failed": failed, "reason": "hazard",
                    "kind": hazard.kind, "sensor": hazard.topic, "confirmed": not failed,
                    "message": message}, urgent=True)

    def _sensor_name(self, entity_id: str) -> str:
        state = self.hass.states.get(entity_id)
        return str(state.attributes.get("friendly_name", entity_id)) if state else entity_id

    async def async_check_unlock(self, burners: list[str], context: Context | None) -> None:
        """A burner a hazard alarm locked is unlocked by a person only: a signed-in user's tap
        or call, never an automation or a voice satellite (their calls carry no user) nor a
        system user (Home Assistant Cloud's voice assistants, add-ons)."""
        held = [b for b in burners if b in self.hazard_locked]
        if not held:
            return
        user = None
        if context is not None and context.user_id is not None:
            user = await self.hass.auth.async_get_user(context.user_id)
        if user is None or user.system_generated or not user.is_active:
            raise ServiceValidationError(
                "a hazard alarm locked it: only a person may unlock it", translation_domain=DOMAIN,
                translation_key="unlock_needs_person",
                translation_placeholders={"burners": self.coordinator.names(held)})

    @callback
    def unlocked(self, burners: list[str]) -> None:
        if self.hazard_locked.intersection(burners):
            self.hazard_locked.difference_update(burners)
            self.coordinator.hass.async_create_task(self.coordinator.async_save_timers())

    # -- what it knows ------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What the guard knows of the kitchen (diagnostics)."""
        now = self._now()
        away = self.guard.away_since
        return {
            "presence": None if self.config.presence is None else {
                "entity_id": self.config.presence.topic, "present": self.guard.present,
                "away_for_s": None if away is None else round(now - away),
                "away_after_s": self.config.away_after},
            "warn_before_s": self.config.warn_before,
            "hazards": [{"entity_id": h.topic, "kind": h.kind, "active": s.active, "online": s.online}
                        for h, s in zip(self.config.hazards, self.guard.hazards, strict=True)],
            "hazard_locked": sorted(self.hazard_locked),
            "warnings": {n: {"reason": w.pending.reason, "cut_at": w.cut_at.isoformat()}
                         for n, w in self.shown.items()},
        }

    def has_flame(self, name: str) -> bool:
        return self.guard.burners[name].has_flame

    def names_with_warning(self, burners: list[str]) -> list[str]:
        return [b for b in burners if b in self.shown]

    def join(self, names: list[str]) -> str:
        return join_names(self.hass, [self.coordinator.config.display_name(n) for n in names])

    def _spawn(self, coro: Any, name: str) -> None:
        task = self.hass.async_create_background_task(coro, name=f"{DOMAIN} {name}")
        # The coordinator's stop waits for it: a cut under way ends with its restore.
        self.coordinator._fire_tasks.add(task)
        task.add_done_callback(self.coordinator._fire_tasks.discard)
