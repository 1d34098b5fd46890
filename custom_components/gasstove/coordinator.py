"""One coordinator per stove: relay state, actions through the library, persistent timers.

Every action goes through :class:`gasstove.control.Stove`, so the safety rules
(confirm by read-back, always restore a pulse) live in the library, not here.
What this module adds is Home Assistant's side of rule 2 -- a failed shut-off
raises, fires ``gasstove_shut_off_failed``, leaves a persistent notification
and a repair issue that outlives restarts until a confirmed cut of that burner
-- and rule 4: timers are written to ``.storage`` before the service call
returns, and a timer that came due while Home Assistant was down fires as
soon as the entry is set up again, saying how late it is. A due timer
follows the library's one timer policy (:mod:`gasstove.timer_policy`, as the
daemon does): retried while not confirmed, and removed only by a cancel or a
confirmed cut -- one whose attempts all fail stays armed and fires again later.

Each burner's lock and pulse records (:mod:`gasstove.adapters.burner_guard`)
are kept on disk too: after a restart a shut-off of a burner locked before it
still holds it off (in memory, the lock was forgotten and the shut-off's pulse
ended with a restore: the child lock undone), and a pulse a crash cut short is
restored when the entry is set up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.helpers.storage import STORAGE_DIR, Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from gasstove import (
    FileBurnerGuard,
    Outcome,
    Relay,
    Stove,
    StoveConfig,
    UsageError,
    cut_confirmed,
    format_duration,
    retry_pause,
    shut_off_with_retries,
    spoken_duration,
)

from .const import (
    CONF_LEGACY_MAX_BURN_MINUTES,
    CONF_LONGEST_TIMER_MINUTES,
    DOMAIN,
    EVENT_SHUT_OFF,
    EVENT_SHUT_OFF_FAILED,
    SCAN_INTERVAL,
    STORAGE_VERSION,
)
from .flame import FlameWatch
from .guard import HassGuard
from .repairs import async_clear_failure, async_report_failure, failure_issue_id
from .stove_config import stove_config_from_entry
from .words import join_clauses, join_names, language, text

_LOGGER = logging.getLogger(__name__)


async def async_pulse_wait(seconds: float) -> None:
    """How long a cut holds the loop open (a module function so tests can shorten it)."""
    await asyncio.sleep(seconds)


def burner_records_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Where a stove's burner records live: in ``.storage`` beside its timers (so they go
    with Home Assistant's backups and its other state), a directory of one file per burner."""
    return Path(hass.config.path(STORAGE_DIR, f"{DOMAIN}.{entry_id}.burners"))


def reason(hass: HomeAssistant, outcome: Outcome) -> str:
    """Why an action failed, in Home Assistant's language: from the kind of failure the
    library names (``Outcome.failure``), and whether the command may have reached the
    relay. The translated sentence around it says the rest, with the burner's name."""
    if outcome.failure is None:  # (a failure the library does not name: its own words)
        return _library_reason(outcome.message)
    said = text(hass, f"reason_{outcome.failure}")
    if outcome.action == "restore":  # a pulse cut short, left cutting
        return text(hass, "reason_not_restored", reason=said)
    if outcome.sent and outcome.restored is None:
        said = join_clauses(hass, [said, text(hass, "reason_may_have_acted")])
    return said


def _library_reason(message: str) -> str:
    """The library's reason, without its lead ("shut-off NOT confirmed: ") and its advice
    for the CLI."""
    for lead in (" NOT confirmed: ", " did not restore: "):
        _, found, why = message.partition(lead)
        if found:
            return why.split("; the burner cannot be relit until `stove unlock")[0]
    return message


@dataclass
class BurnerData:
    """What the last read of one burner's relay said."""

    state: str  #: "resting", "cutting" or "unknown" (gasstove.control.Outcome.relay)
    reachable: bool
    message: str
    locked: bool = False  #: a lock was asked for (and no unlock confirmed since)


@dataclass
class LastShutOff:
    """A burner's last shut-off, as its "last shut-off" sensor shows it."""

    #: "shutting_off" (under way), "confirmed", "not_restored" (the cut was confirmed but
    #: the relay was left cutting) or "failed" (not confirmed: the gas may still be on).
    result: str
    at: datetime  #: when it began (while under way), else when it ended; aware, UTC
    source: str  #: who asked (a logbook SOURCES key)
    user: str | None = None  #: the Home Assistant user's name, when a person asked
    cut_ms: int | None = None  #: request to confirmed cut
    message: str | None = None  #: the library's account of it


def last_from(outcome: Outcome, source: str, user: str | None) -> LastShutOff:
    if outcome.ok:
        result = "confirmed"
    elif cut_confirmed(outcome):
        result = "not_restored"
    else:
        result = "failed"
    return LastShutOff(result, dt_util.utcnow(), source, user, outcome.cut_ms, outcome.message)


@dataclass
class Timer:
    due: datetime  #: aware, UTC
    delay_s: float
    #: Who set it (a SOURCES key), for the logbook: "shut off by timer, set from Assist".
    source: str = "service"
    unsub: CALLBACK_TYPE | None = field(default=None, compare=False)
    #: Rounds of attempts that all failed so far (the next waits longer).
    again: int = field(default=0, compare=False)
    #: When its call_at runs, on the event loop's monotonic clock (set when armed).
    deadline: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"due": self.due.isoformat(), "delay_s": self.delay_s, "source": self.source}


class GasStoveCoordinator(DataUpdateCoordinator[dict[str, BurnerData]]):
    """Reads every relay of one stove and carries out actions on it."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, relays: dict[str, Relay]) -> None:
        # ``config_entry=`` is only accepted from 2024.11 on; the coordinator
        # finds its entry from the setup context on every version.
        super().__init__(hass, _LOGGER, name=f"{DOMAIN} {entry.title}", update_interval=SCAN_INTERVAL)
        self.entry = entry
        self.config: StoveConfig = stove_config_from_entry(entry)
        # The guard's file calls stay on the event loop: no call HA 2025.4 reports as
        # blocking (os.open/pread/pwrite/flock), and fdatasync only when a lock changes.
        self.stove = Stove(self.config, relays, sleep=lambda s: async_pulse_wait(s),
                           guard=FileBurnerGuard(burner_records_path(hass, entry.entry_id)))
        self.timers: dict[str, Timer] = {}
        #: Burners in the middle of a cut (their state sensor shows "shutting off").
        self.acting: set[str] = set()
        #: Burners being locked (True) or unlocked (False) right now.
        self.locking: dict[str, bool] = {}
        #: Each burner's last shut-off (its sensor restores the one before a restart).
        self.last: dict[str, LastShutOff] = {}
        #: Burners whose last shut-off failed, with why: their repair issue is open
        #: (it outlives restarts, so this starts from it); a confirmed cut clears it.
        self.problems: dict[str, str] = {}
        for name in self.config.burners:
            issue = ir.async_get(hass).async_get_issue(DOMAIN, failure_issue_id(entry.entry_id, name))
            if issue is not None and issue.active:
                self.problems[name] = str((issue.data or {}).get("message", ""))
        self._tick: CALLBACK_TYPE | None = None
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.timers"
        )
        self._listeners_timers: list[Callable[[], None]] = []
        #: Burners whose due timer is being carried out (attempts and the waits between).
        self.firing: set[str] = set()
        self._fire_tasks: set[asyncio.Task[None]] = set()
        self._pauses: set[asyncio.Future[None]] = set()
        self._closing = False
        #: Held by a shut-off now until the burner's timer is settled: a timer
        #: coming due meanwhile waits for its outcome (see _async_fire).
        self._cutting = {name: asyncio.Lock() for name in self.config.burners}
        #: Actions counted, and the count when each burner's last action ended:
        #: a poll that began before it read the relay earlier than the action did.
        self._actions = 0
        self._acted: dict[str, int] = {}
        #: Flame inputs and maximum burn times (options); started by the entry's setup.
        self.flames = FlameWatch(self)
        #: The stove guard (options): warnings, snooze, inactivity and hazard cuts.
        self.guard = HassGuard(self)

    # -- reading ------------------------------------------------------------------
    async def _async_update_data(self) -> dict[str, BurnerData]:
        self._fire_overdue()
        began = self._actions
        outcomes = await self.stove.status(self.config.burners)
        data = {o.burner: BurnerData(o.relay, o.ok, o.message, self.stove.locked(o.burner))
                for o in outcomes}
        for burner, ended in self._acted.items():
            if ended > began and self.data and burner in self.data:
                data[burner] = self.data[burner]  # the action's read-back is the newer one
        return data

    @property
    def longest_timer_minutes(self) -> int:
        options = self.entry.options
        return int(options.get(CONF_LONGEST_TIMER_MINUTES, options.get(CONF_LEGACY_MAX_BURN_MINUTES, 0)))

    def resolve(self, words: Iterable[str] | None) -> list[str]:
        """Burner names for names/aliases/"all"; none means every burner."""
        try:
            return self.stove.resolve(list(words or []))
        except UsageError as err:
            raise ServiceValidationError(
                str(err), translation_domain=DOMAIN, translation_key="unknown_burner",
                translation_placeholders={"burners": self.names(self.config.burners)},
            ) from None

    def names(self, burners: Iterable[str]) -> str:
        """The burners' display names, joined as Home Assistant's language joins them."""
        return join_names(self.hass, [self.config.display_name(b) for b in burners])

    def _failure_placeholders(self, failed: list[Outcome]) -> dict[str, str]:
        return {"stove": self.entry.title, "burners": self.names(o.burner for o in failed),
                "reason": join_clauses(self.hass, (reason(self.hass, o) for o in failed))}

    # -- actions ------------------------------------------------------------------
    async def async_shut_off(self, burners: list[str], *, source: str,
                             context: Context | None = None) -> list[Outcome]:
        """Shut ``burners`` off now; report a failure loudly (docs/design.md §2 rule 2).

        A confirmed cut also ends the burner's pending timer (it has nothing
        left to do); a failed one leaves it armed: nothing but a cancel or a
        confirmed cut removes a pending shut-off. ``context``: the service call's,
        so the events (and the logbook) say which user asked.
        """
        async with contextlib.AsyncExitStack() as settling:
            for burner in sorted(set(burners)):
                await settling.enter_async_context(self._cutting[burner])
            outcomes = await self._async_cut(burners, source=source, context=context)
            self._report(outcomes, source=source, context=context)
            covered = [o.burner for o in outcomes if cut_confirmed(o) and o.burner in self.timers
                       and o.burner not in self.firing]
            for burner in covered:
                self._disarm(burner)
            if covered:
                await self._async_save()
                self.async_update_listeners()
        failed = [o for o in outcomes if not o.ok]
        if failed:
            # Every cut confirmed, but a restore failed: the gas is off, the burner cannot be relit.
            restore = all(cut_confirmed(o) for o in failed)
            raise HomeAssistantError(
                "; ".join(f"{o.burner}: {o.message}" for o in failed), translation_domain=DOMAIN,
                translation_key="restore_failed" if restore else "shut_off_failed",
                translation_placeholders=self._failure_placeholders(failed),
            )
        return outcomes

    async def _async_cut(self, burners: list[str], *, source: str,
                         context: Context | None = None) -> list[Outcome]:
        user = None
        if context is not None and context.user_id is not None:
            person = await self.hass.auth.async_get_user(context.user_id)
            user = person.name if person is not None else None
        began = dt_util.utcnow()
        for burner in burners:
            self.last[burner] = LastShutOff("shutting_off", began, source, user)
        self.acting.update(burners)
        self.async_update_listeners()
        try:
            outcomes = await self.stove.shut_off(burners)
        finally:
            self.acting.difference_update(burners)
        for outcome in outcomes:
            self.last[outcome.burner] = last_from(outcome, source, user)
        self._store_outcomes(outcomes)
        return outcomes

    @callback
    def _report(self, outcomes: list[Outcome], *, source: str, set_from: str | None = None,
                late_s: float | None = None, retry_in: float | None = None,
                context: Context | None = None) -> None:
        """Event, log line and repair issue for each outcome; a notification for failures."""
        for outcome in outcomes:
            data: dict[str, Any] = {"stove": self.entry.title, "entry_id": self.entry.entry_id,
                                    "burner": outcome.burner,
                                    "burner_name": self.config.display_name(outcome.burner),
                                    "message": outcome.message, "source": source}
            if set_from is not None:
                data["set_from"] = set_from
            if late_s is not None:
                data["late_seconds"] = round(late_s)
            # A cut confirmed before its restore failed still put the gas out:
            # no longer a failed shut-off, though the event says what went wrong.
            self._set_problem(outcome.burner, None if cut_confirmed(outcome) else outcome)
            if outcome.ok:
                _LOGGER.info("%s %s: %s", self.entry.title, outcome.burner, outcome.message)
                self.hass.bus.async_fire(EVENT_SHUT_OFF, data, context=context)
                continue
            if retry_in is not None:
                data["retry_in_seconds"] = round(retry_in)
            _LOGGER.error("%s %s: %s", self.entry.title, outcome.burner, outcome.message)
            self.hass.bus.async_fire(EVENT_SHUT_OFF_FAILED, data, context=context)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            lines = "\n".join(text(self.hass, "notify_failed_line", reason=reason(self.hass, o),
                                   burner=self.config.display_name(o.burner)) for o in failed)
            if retry_in is not None:
                lines += "\n\n" + text(self.hass, "notify_retry",
                                        delay=spoken_duration(retry_in, language(self.hass)))
            persistent_notification.async_create(
                self.hass, text(self.hass, "notify_failed", stove=self.entry.title, lines=lines),
                title=text(self.hass, "notify_failed_title"),
                notification_id=f"{DOMAIN}_{self.entry.entry_id}_failed",
            )

    @callback
    def _set_problem(self, burner: str, outcome: Outcome | None) -> None:
        """Open (message) or close (None) the burner's shut-off problem: its repair issue
        and its "shut-off problem" sensor."""
        if outcome is None:
            async_clear_failure(self.hass, self.entry, burner)
            self.problems.pop(burner, None)
        else:
            async_report_failure(self.hass, self.entry, burner, self.config.display_name(burner),
                                 reason(self.hass, outcome))
            self.problems[burner] = outcome.message
        self.async_update_listeners()

    async def async_finish_pulses(self) -> None:
        """Restore the pulses a crash of Home Assistant cut short (a locked burner stays
        held; each is logged at WARNING). One that cannot be restored leaves the relay
        cutting: reported as a failed shut-off is, until a confirmed cut clears it."""
        outcomes = await self.stove.finish_pulses(self.config.burners)
        if failed := [o for o in outcomes if not o.ok]:
            self._report(failed, source="start")

    async def async_lock(self, burners: list[str], lock: bool,
                         context: Context | None = None) -> list[Outcome]:
        """Lock or unlock; a burner a hazard alarm locked is unlocked by a person only."""
        if not lock:
            await self.guard.async_check_unlock(burners, context)
        self.locking.update(dict.fromkeys(burners, lock))
        self.async_update_listeners()
        try:
            outcomes = await (self.stove.lock(burners) if lock else self.stove.unlock(burners))
        finally:
            for burner in burners:
                self.locking.pop(burner, None)
        self._store_outcomes(outcomes)
        for outcome in outcomes:
            if lock and outcome.ok:  # a confirmed hold is a confirmed cut
                self._set_problem(outcome.burner, None)
        if not lock:
            self.guard.unlocked([o.burner for o in outcomes if o.ok])
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise HomeAssistantError(
                "; ".join(f"{o.burner}: {o.message}" for o in failed),
                translation_domain=DOMAIN,
                translation_key="lock_failed" if lock else "unlock_failed",
                translation_placeholders=self._failure_placeholders(failed),
            )
        return outcomes

    @callback
    def _store_outcomes(self, outcomes: list[Outcome]) -> None:
        """What an action read back is the freshest state: show it without a poll."""
        data = dict(self.data or {})
        self._actions += 1
        for o in outcomes:
            data[o.burner] = BurnerData(o.relay, o.relay != "unknown" or o.ok, o.message,
                                        self.stove.locked(o.burner))
            self._acted[o.burner] = self._actions
        self.async_set_updated_data(data)

    # -- timers -------------------------------------------------------------------
    async def async_schedule(self, burners: list[str], delay_s: float, *,
                             source: str) -> datetime:
        """Arm (or re-arm) a shut-off timer; persisted before this returns."""
        if delay_s < 1:
            raise ServiceValidationError(
                "delay must be at least 1 second", translation_domain=DOMAIN,
                translation_key="delay_too_short",
            )
        limit = self.longest_timer_minutes
        if limit and delay_s > limit * 60:
            raise ServiceValidationError(
                f"a delay of {format_duration(delay_s)} is longer than the longest timer "
                f"allowed, {limit} minutes", translation_domain=DOMAIN, translation_key="delay_too_long",
                translation_placeholders={"burners": self.names(burners), "minutes": f"{delay_s / 60:g}",
                                          "max": str(limit)},
            )
        due = dt_util.utcnow() + timedelta(seconds=delay_s)
        for burner in burners:
            self._arm(burner, Timer(due, delay_s, source))
        await self._async_save()
        self.async_update_listeners()
        return due

    @callback
    def move_timer(self, burner: str, due: datetime) -> None:
        """A snooze pushed the burner's armed timer back to ``due`` (save it after)."""
        timer = self.timers[burner]
        self._arm(burner, Timer(due, timer.delay_s, timer.source))

    async def async_save_timers(self) -> None:
        await self._async_save()
        self.async_update_listeners()

    async def async_cancel(self, burners: list[str]) -> list[str]:
        """Cancel pending timers; one whose shut-off is under way is past cancelling."""
        for burner in self.firing.intersection(burners):
            _LOGGER.info("%s %s: too late to cancel, the timer's shut-off is under way",
                         self.entry.title, burner)
        cancelled = [b for b in burners if b in self.timers and b not in self.firing]
        for burner in cancelled:
            self._disarm(burner)
        await self._async_save()
        self.async_update_listeners()
        return cancelled

    async def async_restore_timers(self) -> None:
        """Re-arm stored timers; fire at once those that came due while we were down."""
        stored = await self._store.async_load() or {}
        # Burners a hazard alarm locked: a person must still unlock them after a restart.
        self.guard.hazard_locked.update(b for b in stored.get("hazard_locked", [])
                                        if b in self.config.burners)
        now = dt_util.utcnow()
        overdue: list[tuple[str, float]] = []
        for burner, raw in (stored.get("timers") or {}).items():
            if burner not in self.config.burners:
                continue  # the burner was removed from the stove since
            due = dt_util.parse_datetime(str(raw.get("due")))
            if due is None:
                _LOGGER.error("%s: dropped an unreadable stored timer for %s", self.entry.title, burner)
                continue
            timer = Timer(dt_util.as_utc(due), float(raw.get("delay_s", 0)),
                          str(raw.get("source", "service")))
            if timer.due <= now:
                overdue.append((burner, (now - timer.due).total_seconds()))
                self.timers[burner] = timer
            else:
                self._arm(burner, timer)
        self.async_update_listeners()  # the entities were added before the timers came back
        for burner, late_s in overdue:
            late = max(1, round(late_s))
            _LOGGER.warning("%s %s: the shut-off timer came due while Home Assistant was not "
                            "running; shutting off now, %s late", self.entry.title, burner,
                            format_duration(late))
            persistent_notification.async_create(
                self.hass,
                text(self.hass, "notify_late", burner=self.config.display_name(burner),
                     stove=self.entry.title, late=spoken_duration(late, language(self.hass))),
                title=text(self.hass, "notify_late_title"),
                notification_id=f"{DOMAIN}_{self.entry.entry_id}_{burner}_late",
            )
            self._start_firing(burner, self.timers[burner].source, late_s)

    @callback
    def _arm(self, burner: str, timer: Timer) -> None:
        """Wait for ``timer`` on the loop's monotonic clock; the poll also fires it once the
        wall clock reads past its due instant (_fire_overdue): the earlier of the two.

        Not async_track_point_in_utc_time: its call_at waits the monotonic length and
        then re-arms while the wall clock reads early, so a clock stepped back delays
        the shut-off by the step. A step forward is the poll's: a timer restored while
        the clock was behind (a Raspberry Pi without a real-time clock boots at its last
        shutdown time) fires within one poll of NTP's correction, not the error later.
        """
        self._disarm(burner)

        @callback
        def fire(_now: datetime) -> None:
            timer.unsub = None
            self._start_firing(burner, timer.source, None)

        wait = (timer.due - dt_util.utcnow()).total_seconds()
        timer.deadline = self.hass.loop.time() + wait
        timer.unsub = async_call_later(self.hass, wait, fire)
        self.timers[burner] = timer
        self._schedule_tick()

    @callback
    def _fire_overdue(self) -> None:
        """Fire the armed timers the wall clock has passed while their call_at still waits
        (see _arm). An armed timer is one not yet fired (unsub set): firing clears it, in
        the same turn of the loop as the check, so its call_at and a poll never both start
        it. No ``late_seconds``: whether the clock was wrong before or after the step, and
        so how late this is, nobody can tell (the log says by how much it moved)."""
        now, loop_now = dt_util.utcnow(), self.hass.loop.time()
        for burner, timer in list(self.timers.items()):
            if timer.unsub is None or timer.due > now or timer.deadline <= loop_now:
                continue
            timer.unsub()
            timer.unsub = None
            _LOGGER.warning("%s %s: the clock moved past the shut-off timer's due instant "
                            "%s before its wait ended; shutting off now", self.entry.title,
                            burner, format_duration(max(1, round(timer.deadline - loop_now))))
            self._start_firing(burner, timer.source, None)

    @callback
    def _disarm(self, burner: str) -> None:
        timer = self.timers.pop(burner, None)
        if timer and timer.unsub:
            timer.unsub()
        self._schedule_tick()

    @callback
    def _schedule_tick(self, _now: datetime | None = None) -> None:
        """Update the entities when the minutes left on an armed timer next change
        (due - 60 s x k), not at the next 30 s poll: the countdown a cook watches."""
        if _now is not None:
            self._tick = None
            self.async_update_listeners()
        if self._tick is not None:
            self._tick()
            self._tick = None
        now = dt_util.utcnow()
        steps = []
        for timer in self.timers.values():
            left = (timer.due - now).total_seconds()
            if timer.unsub is not None and left > 0:
                steps.append(timer.due - timedelta(minutes=math.ceil(left / 60) - 1))
        if steps and not self._closing:
            self._tick = async_track_point_in_utc_time(self.hass, self._schedule_tick, min(steps))

    @callback
    def _start_firing(self, burner: str, set_from: str, late_s: float | None) -> None:
        # A background task: waiting for the next attempt holds nothing up
        # (start-up, async_block_till_done) and a stop may end that wait.
        task = self.hass.async_create_background_task(
            self._async_fire(burner, set_from, late_s), name=f"{DOMAIN} timer {burner}")
        self._fire_tasks.add(task)
        task.add_done_callback(self._fire_tasks.discard)

    async def _async_fire(self, burner: str, set_from: str, late_s: float | None) -> None:
        # The timer stays stored while it fires: if Home Assistant stops
        # meanwhile, it fires again on start-up (a second cut is harmless, a
        # lost one is not).
        async with self._cutting[burner]:
            pass  # a shut-off now under way may cover this timer: wait for its outcome
        timer = self.timers.get(burner)
        if timer is None or timer.unsub is not None:
            return  # ended by that confirmed cut, or set again meanwhile
        again = timer.again + 1

        def mine() -> bool:  # not replaced meanwhile
            return self.timers.get(burner) is timer and timer.unsub is None

        @callback
        def failed(outcome: Outcome, retry_in: float | None) -> None:
            if retry_in is None and mine() and not self._closing:
                retry_in = retry_pause(again)  # its next round
            self._report([outcome], source="timer", set_from=set_from, late_s=late_s,
                         retry_in=retry_in)

        async def attempt() -> Outcome:
            # Each attempt is a task of its own that a stop waits for and
            # never cancels: a cut under way always ends with its restore.
            (outcome,) = await asyncio.shield(self.hass.async_create_task(
                self._async_cut([burner], source="timer")))
            return outcome

        self.firing.add(burner)
        try:
            outcome = await shut_off_with_retries(attempt, sleep=self._async_pause, failed=failed)
        finally:
            self.firing.discard(burner)
        if outcome.ok:
            self._report([outcome], source="timer", set_from=set_from, late_s=late_s)
        self.guard.timer_done(burner, outcome)
        if mine() and cut_confirmed(outcome):
            self.timers.pop(burner, None)
            await self._async_save()
        elif mine() and not self._closing:
            # docs/design.md §2 rule 2: only a cancel or a confirmed cut removes it.
            pause = retry_pause(again)
            _LOGGER.error("%s %s: the timer stays armed; its shut-off is tried again in %s",
                          self.entry.title, burner, format_duration(pause))
            self._arm(burner, Timer(dt_util.utcnow() + timedelta(seconds=pause), timer.delay_s,
                                    timer.source, again=again))
            await self._async_save()
        self.async_update_listeners()

    async def _async_pause(self, seconds: float) -> None:
        """Wait on Home Assistant's clock; unloading the entry ends the wait (CancelledError)."""
        if self._closing:
            raise asyncio.CancelledError
        woken: asyncio.Future[None] = self.hass.loop.create_future()

        @callback
        def wake(_now: datetime) -> None:
            if not woken.done():
                woken.set_result(None)

        unsub = async_call_later(self.hass, seconds, wake)
        self._pauses.add(woken)
        try:
            await woken
        finally:
            unsub()
            self._pauses.discard(woken)

    async def _async_save(self) -> None:
        # Saved now, not with async_delay_save: a timer set a second before a
        # restart must survive it.
        await self._store.async_save({"timers": {b: t.as_dict() for b, t in self.timers.items()},
                                      "hazard_locked": sorted(self.guard.hazard_locked)})

    async def async_remove_store(self) -> None:
        await self._store.async_remove()

    async def async_shutdown(self) -> None:
        """Stop the in-memory timers; the stored ones stay for the next start.

        A cut under way is let finish (bounded by the deadline and the pulse),
        so unloading never leaves a relay cutting; a wait between attempts ends.
        """
        self._closing = True
        self.flames.stop()
        self.guard.stop()
        self._schedule_tick()  # cancels the countdown's next update
        for timer in self.timers.values():
            if timer.unsub:
                timer.unsub()
                timer.unsub = None
        for pause in self._pauses:
            pause.cancel()
        await asyncio.gather(*self._fire_tasks, return_exceptions=True)
        await super().async_shutdown()
        await self.stove.close()


#: A config entry of this integration, its coordinator in ``runtime_data``.
GasStoveConfigEntry = ConfigEntry[GasStoveCoordinator]


def loaded_coordinators(hass: HomeAssistant) -> list[GasStoveCoordinator]:
    """The coordinators of the stoves that are set up (loaded), for services and intents."""
    entries: list[GasStoveConfigEntry] = hass.config_entries.async_entries(DOMAIN)
    return [entry.runtime_data for entry in entries if entry.state is ConfigEntryState.LOADED]
