"""One coordinator per stove: relay state, actions through the library, persistent timers.

Every action goes through :class:`gasstove.control.Stove`, so the safety rules
(confirm by read-back, always restore a pulse) live in the library, not here.
What this module adds is Home Assistant's side of rule 2 -- a failed shut-off
raises, fires ``gasstove_shut_off_failed`` and leaves a persistent
notification -- and rule 4: timers are written to ``.storage`` before the
service call returns, and a timer that came due while Home Assistant was down
fires as soon as the entry is set up again, saying how late it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from gasstove.control import Outcome, Stove
from gasstove.domain.config import StoveConfig
from gasstove.domain.durations import format_duration
from gasstove.domain.errors import UsageError
from gasstove.domain.relay import Relay

from .const import (
    CONF_MAX_BURN_MINUTES,
    DOMAIN,
    EVENT_SHUT_OFF,
    EVENT_SHUT_OFF_FAILED,
    SCAN_INTERVAL,
    STORAGE_VERSION,
)
from .stove_config import stove_config_from_entry

_LOGGER = logging.getLogger(__name__)


async def async_pulse_wait(seconds: float) -> None:
    """How long a cut holds the loop open (a module function so tests can shorten it)."""
    await asyncio.sleep(seconds)


@dataclass
class BurnerData:
    """What the last read of one burner's relay said."""

    state: str  #: "resting", "cutting" or "unknown" (gasstove.control.Outcome.relay)
    reachable: bool
    message: str


@dataclass
class Timer:
    due: datetime  #: aware, UTC
    delay_s: float
    #: Who set it (a SOURCES key), for the logbook: "shut off by timer, set from Assist".
    source: str = "service"
    unsub: CALLBACK_TYPE | None = field(default=None, compare=False)

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
        self.stove = Stove(self.config, relays, sleep=lambda s: async_pulse_wait(s))
        self.timers: dict[str, Timer] = {}
        #: Burners in the middle of a cut (the valve entity shows "closing").
        self.acting: set[str] = set()
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.timers"
        )
        self._listeners_timers: list[Callable[[], None]] = []

    # -- reading ------------------------------------------------------------------
    async def _async_update_data(self) -> dict[str, BurnerData]:
        outcomes = await self.stove.status(self.config.burners)
        return {o.burner: BurnerData(o.relay, o.ok, o.message) for o in outcomes}

    @property
    def max_burn_minutes(self) -> int:
        return int(self.entry.options.get(CONF_MAX_BURN_MINUTES, 0))

    def resolve(self, words: Iterable[str] | None) -> list[str]:
        """Burner names for names/aliases/"all"; none means every burner."""
        try:
            return self.stove.resolve(list(words or []))
        except UsageError as err:
            raise ServiceValidationError(
                str(err), translation_domain=DOMAIN, translation_key="unknown_burner",
                translation_placeholders={"burners": ", ".join(self.config.burners)},
            ) from None

    # -- actions ------------------------------------------------------------------
    async def async_shut_off(self, burners: list[str], *, source: str,
                             set_from: str | None = None, late_s: float | None = None,
                             raise_on_failure: bool = True) -> list[Outcome]:
        """Shut ``burners`` off now; report a failure loudly (DESIGN §2 rule 2)."""
        self.acting.update(burners)
        self.async_update_listeners()
        try:
            outcomes = await self.stove.shut_off(burners)
        finally:
            self.acting.difference_update(burners)
        self._store_outcomes(outcomes)
        failed = [o for o in outcomes if not o.ok]
        for outcome in outcomes:
            data = {"stove": self.entry.title, "entry_id": self.entry.entry_id,
                    "burner": outcome.burner, "message": outcome.message, "source": source}
            if set_from is not None:
                data["set_from"] = set_from
            if late_s is not None:
                data["late_seconds"] = round(late_s)
            if outcome.ok:
                _LOGGER.info("%s %s: %s", self.entry.title, outcome.burner, outcome.message)
                self.hass.bus.async_fire(EVENT_SHUT_OFF, data)
            else:
                _LOGGER.error("%s %s: %s", self.entry.title, outcome.burner, outcome.message)
                self.hass.bus.async_fire(EVENT_SHUT_OFF_FAILED, data)
        if failed:
            text = "\n".join(f"- **{o.burner}**: {o.message}" for o in failed)
            persistent_notification.async_create(
                self.hass,
                f"The gas stove **{self.entry.title}** did NOT confirm a shut-off. "
                f"Check the stove now.\n\n{text}",
                title="Gas stove shut-off FAILED",
                notification_id=f"{DOMAIN}_{self.entry.entry_id}_failed",
            )
            if raise_on_failure:
                raise HomeAssistantError(
                    "; ".join(f"{o.burner}: {o.message}" for o in failed),
                    translation_domain=DOMAIN, translation_key="shut_off_failed",
                    translation_placeholders={
                        "stove": self.entry.title,
                        "burners": ", ".join(o.burner for o in failed),
                        "message": "; ".join(o.message for o in failed),
                    },
                )
        return outcomes

    async def async_lock(self, burners: list[str], lock: bool) -> list[Outcome]:
        outcomes = await (self.stove.lock(burners) if lock else self.stove.unlock(burners))
        self._store_outcomes(outcomes)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise HomeAssistantError(
                "; ".join(f"{o.burner}: {o.message}" for o in failed),
                translation_domain=DOMAIN,
                translation_key="lock_failed" if lock else "unlock_failed",
                translation_placeholders={
                    "burners": ", ".join(o.burner for o in failed),
                    "message": "; ".join(o.message for o in failed),
                },
            )
        return outcomes

    @callback
    def _store_outcomes(self, outcomes: list[Outcome]) -> None:
        """What an action read back is the freshest state: show it without a poll."""
        data = dict(self.data or {})
        for o in outcomes:
            data[o.burner] = BurnerData(o.relay, o.relay != "unknown" or o.ok, o.message)
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
        limit = self.max_burn_minutes
        if limit and delay_s > limit * 60:
            raise ServiceValidationError(
                f"a delay of {format_duration(delay_s)} is longer than the maximum burn time "
                f"of {limit} minutes", translation_domain=DOMAIN, translation_key="delay_too_long",
                translation_placeholders={"delay": format_duration(delay_s), "max": str(limit)},
            )
        due = dt_util.utcnow() + timedelta(seconds=delay_s)
        for burner in burners:
            self._arm(burner, Timer(due, delay_s, source))
        await self._async_save()
        self.async_update_listeners()
        return due

    async def async_cancel(self, burners: list[str]) -> list[str]:
        cancelled = [b for b in burners if b in self.timers]
        for burner in cancelled:
            self._disarm(burner)
        await self._async_save()
        self.async_update_listeners()
        return cancelled

    async def async_restore_timers(self) -> None:
        """Re-arm stored timers; fire at once those that came due while we were down."""
        stored = await self._store.async_load() or {}
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
            late = format_duration(max(1, round(late_s)))
            _LOGGER.warning("%s %s: the shut-off timer came due while Home Assistant was not "
                            "running; shutting off now, %s late", self.entry.title, burner, late)
            persistent_notification.async_create(
                self.hass,
                f"The shut-off timer of **{burner}** on **{self.entry.title}** came due while "
                f"Home Assistant was not running. It was carried out on start-up, {late} late.",
                title="Gas stove timer fired late",
                notification_id=f"{DOMAIN}_{self.entry.entry_id}_{burner}_late",
            )
            self.hass.async_create_task(self._async_fire(burner, timer.source, late_s))

    @callback
    def _arm(self, burner: str, timer: Timer) -> None:
        self._disarm(burner)

        @callback
        def fire(_now: datetime) -> None:
            timer.unsub = None
            self.hass.async_create_task(self._async_fire(burner, timer.source, None))

        timer.unsub = async_track_point_in_utc_time(self.hass, fire, timer.due)
        self.timers[burner] = timer

    @callback
    def _disarm(self, burner: str) -> None:
        timer = self.timers.pop(burner, None)
        if timer and timer.unsub:
            timer.unsub()

    async def _async_fire(self, burner: str, set_from: str, late_s: float | None) -> None:
        # The timer leaves the store only after the attempt: if Home Assistant
        # dies mid-cut, it fires again on start-up (a second cut is harmless,
        # a lost one is not).
        try:
            await self.async_shut_off([burner], source="timer", set_from=set_from, late_s=late_s,
                                      raise_on_failure=False)
        finally:
            timer = self.timers.get(burner)
            if timer is not None and timer.unsub is None:  # not re-armed meanwhile
                self.timers.pop(burner, None)
                await self._async_save()
            self.async_update_listeners()

    async def _async_save(self) -> None:
        # Saved now, not with async_delay_save: a timer set a second before a
        # restart must survive it.
        await self._store.async_save({"timers": {b: t.as_dict() for b, t in self.timers.items()}})

    async def async_remove_store(self) -> None:
        await self._store.async_remove()

    async def async_shutdown(self) -> None:
        """Stop the in-memory timers; the stored ones stay for the next start."""
        for timer in self.timers.values():
            if timer.unsub:
                timer.unsub()
                timer.unsub = None
        await super().async_shutdown()
        await self.stove.close()
