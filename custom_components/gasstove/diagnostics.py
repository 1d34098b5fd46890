"""Diagnostics: entry, relay states and timers, with every secret redacted (docs/design.md §2 rule 5)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import GasStoveConfigEntry

#: Keys redacted wherever they appear. Relay states and hosts help debugging;
#: tokens and passwords would let anyone on the LAN switch the relay.
TO_REDACT = {"token", "password", "username", "unique_id"}


async def async_get_config_entry_diagnostics(hass: HomeAssistant,
                                              entry: GasStoveConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    return {
        "entry": async_redact_data(
            {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)}, TO_REDACT),
        "relays": {
            name: {"describe": relay.describe(), "state": data.state, "reachable": data.reachable,
                   "locked": data.locked, "message": data.message}
            for name, relay in coordinator.stove.relays.items()
            if (data := (coordinator.data or {}).get(name)) is not None
        },
        "timers": {name: timer.as_dict() for name, timer in coordinator.timers.items()},
        "last_shut_off": {name: {"result": last.result, "at": last.at.isoformat(),
                                 "source": last.source, "confirmed_in_ms": last.cut_ms,
                                 "message": last.message}
                          for name, last in coordinator.last.items()},
        "problems": coordinator.problems,
        "guard": coordinator.guard.state(),
        "last_update_success": coordinator.last_update_success,
    }
