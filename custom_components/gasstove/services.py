"""Services ``gasstove.shut_off`` / ``cancel`` / ``lock`` / ``unlock`` / ``snooze`` / ``say``.

Registered once in ``async_setup`` (not per entry), so automations that use
them validate even while a stove is still loading. ``burners`` takes names or
aliases (any language) and "all"; none means every burner. ``stove`` picks a
config entry when there are several stoves. ``delay`` takes what Home
Assistant's duration selector gives (``{"minutes": 20}``, ``"00:20:00"``,
seconds) and the library's own spellings (``20m``, ``1h30m``, ``PT20M``).
``snooze`` pushes the stove guard's automatic shut-offs back (``duration``, default
5 minutes), never past a burner's maximum burn time (guard.py). ``say`` answers a
sentence as Assist would if it is a stove sentence, and leaves any other alone
(:func:`.intent.async_say`; the Xiao AI blueprint calls it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import voluptuous as vol
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from gasstove import DurationError, UsageError, parse_duration

from .const import (
    ATTR_BURNERS,
    ATTR_DELAY,
    ATTR_DURATION,
    ATTR_LANGUAGE,
    ATTR_STOVE,
    ATTR_TEXT,
    DEFAULT_SNOOZE_S,
    DOMAIN,
    SERVICE_CANCEL,
    SERVICE_LOCK,
    SERVICE_SAY,
    SERVICE_SHUT_OFF,
    SERVICE_SNOOZE,
    SERVICE_UNLOCK,
)
from .coordinator import GasStoveCoordinator, loaded_coordinators


def _delay(value: Any) -> timedelta:
    if isinstance(value, str):
        try:
            return timedelta(seconds=parse_duration(value))
        except DurationError:
            pass  # "00:20:00" is Home Assistant's spelling: let cv try
    try:
        result: timedelta = cv.time_period(value)
    except vol.Invalid:
        raise vol.Invalid(f"delay {value!r} is not a duration such as 20m or 00:20:00") from None
    return result


BASE_SCHEMA = {
    vol.Optional(ATTR_STOVE): cv.string,
    vol.Optional(ATTR_BURNERS): vol.All(cv.ensure_list, [cv.string]),
}
SHUT_OFF_SCHEMA = vol.Schema({**BASE_SCHEMA, vol.Optional(ATTR_DELAY): _delay})
BURNERS_SCHEMA = vol.Schema(BASE_SCHEMA)
SNOOZE_SCHEMA = vol.Schema({**BASE_SCHEMA, vol.Optional(ATTR_DURATION): _delay})
SAY_SCHEMA = vol.Schema({vol.Required(ATTR_TEXT): cv.string, vol.Optional(ATTR_LANGUAGE): cv.string})


def targets(hass: HomeAssistant, stove: str | None,
            words: list[str] | None) -> list[tuple[GasStoveCoordinator, list[str]]]:
    """(stove, burner names) pairs for a call; raises a translated error for a bad name."""
    coordinators = loaded_coordinators(hass)
    if stove is not None:
        wanted = stove.casefold()
        coordinators = [c for c in coordinators
                        if wanted in (c.entry.entry_id.casefold(), c.entry.title.casefold())]
        if not coordinators:
            raise ServiceValidationError(
                f"no gas stove {stove!r} is set up", translation_domain=DOMAIN,
                translation_key="unknown_stove", translation_placeholders={"stove": stove},
            )
    if not coordinators:
        raise ServiceValidationError("no gas stove is set up", translation_domain=DOMAIN,
                                     translation_key="no_stove")
    if not words or len(coordinators) == 1:
        return [(c, c.resolve(words)) for c in coordinators]
    # Several stoves and burner words: each stove takes the words it knows.
    chosen: list[tuple[GasStoveCoordinator, list[str]]] = []
    unknown = set(words)
    for coordinator in coordinators:
        known = [w for w in words if _knows(coordinator, w)]
        unknown.difference_update(known)
        if known:
            chosen.append((coordinator, coordinator.resolve(known)))
    if unknown:
        coordinators[0].resolve(sorted(unknown))  # raises the translated error
    return chosen


def _knows(coordinator: GasStoveCoordinator, word: str) -> bool:
    try:
        coordinator.stove.resolve([word])
    except UsageError:  # not a name or alias of this stove
        return False
    return True


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    async def shut_off(call: ServiceCall) -> ServiceResponse:
        delay: timedelta | None = call.data.get(ATTR_DELAY)
        chosen = targets(hass, call.data.get(ATTR_STOVE), call.data.get(ATTR_BURNERS))
        result: dict[str, Any] = {}
        if delay is None:
            for coordinator, burners in chosen:
                outcomes = await coordinator.async_shut_off(burners, source="service",
                                                            context=call.context)
                result[coordinator.entry.title] = {o.burner: o.message for o in outcomes}
        else:
            for coordinator, burners in chosen:
                due = await coordinator.async_schedule(burners, delay.total_seconds(),
                                                     source="service")
                result[coordinator.entry.title] = {b: f"scheduled at {due.isoformat()}" for b in burners}
        return result if call.return_response else None

    async def cancel(call: ServiceCall) -> None:
        for coordinator, burners in targets(hass, call.data.get(ATTR_STOVE), call.data.get(ATTR_BURNERS)):
            await coordinator.async_cancel(burners)

    async def lock(call: ServiceCall) -> None:
        for coordinator, burners in targets(hass, call.data.get(ATTR_STOVE), call.data.get(ATTR_BURNERS)):
            await coordinator.async_lock(burners, call.service == SERVICE_LOCK, call.context)

    async def snooze(call: ServiceCall) -> ServiceResponse:
        duration: timedelta | None = call.data.get(ATTR_DURATION)
        seconds = DEFAULT_SNOOZE_S if duration is None else duration.total_seconds()
        if seconds < 1:
            raise ServiceValidationError("a snooze must be at least 1 second",
                                         translation_domain=DOMAIN, translation_key="delay_too_short")
        result: dict[str, Any] = {}
        for coordinator, burners in targets(hass, call.data.get(ATTR_STOVE), call.data.get(ATTR_BURNERS)):
            held = await coordinator.guard.async_snooze(burners, seconds)
            result[coordinator.entry.title] = {
                b: {"until": until.isoformat(), "bounded_by_max_burn": bounded}
                for b, (until, bounded) in held.items()}
        return result if call.return_response else None

    async def say(call: ServiceCall) -> ServiceResponse:
        from .intent import async_say  # intent.py imports targets from here

        return await async_say(hass, call.data[ATTR_TEXT],
                               call.data.get(ATTR_LANGUAGE) or hass.config.language, call.context)

    hass.services.async_register(DOMAIN, SERVICE_SAY, say, SAY_SCHEMA,
                                 supports_response=SupportsResponse.OPTIONAL)
    hass.services.async_register(DOMAIN, SERVICE_SHUT_OFF, shut_off, SHUT_OFF_SCHEMA,
                                 supports_response=SupportsResponse.OPTIONAL)
    hass.services.async_register(DOMAIN, SERVICE_SNOOZE, snooze, SNOOZE_SCHEMA,
                                 supports_response=SupportsResponse.OPTIONAL)
    hass.services.async_register(DOMAIN, SERVICE_CANCEL, cancel, BURNERS_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_LOCK, lock, BURNERS_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_UNLOCK, lock, BURNERS_SCHEMA)
