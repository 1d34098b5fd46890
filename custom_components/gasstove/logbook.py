"""Logbook entries for every shut-off: "Left burner shut off by timer, set from Assist".

A failed one reads "shut-off FAILED ..." with the reason, so the logbook is
the record a person away from home looks at (the history issue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_SHUT_OFF, EVENT_SHUT_OFF_FAILED

#: How each source reads in a sentence.
SOURCES = {
    "button": "from its dashboard button",
    "valve": "by closing its valve",
    "number": "from its shut-off-in number",
    "service": "by a service call",
    "assist": "from Assist",
    "timer": "by timer",
    "repair": "from its repair",
    "start": "at start-up",
}


def describe(data: dict[str, Any], failed: bool) -> dict[str, str]:
    burner = str(data.get("burner", "?"))
    how = SOURCES.get(str(data.get("source")), "")
    if data.get("source") == "timer" and data.get("set_from") in SOURCES:
        how += f", set {SOURCES[str(data['set_from'])].replace('by a ', 'with a ')}"
    if late := data.get("late_seconds"):
        how += f", {late} s late (Home Assistant was down)"
    if failed:
        message = f"shut-off FAILED {how}: {data.get('message', '')}".replace("  ", " ")
        if (retry := data.get("retry_in_seconds")) is not None:
            message += f"; trying again in {retry} s"
    else:
        message = f"shut off {how}".rstrip()
    return {"name": f"{burner.replace('_', ' ').capitalize()} burner", "message": message}


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    @callback
    def shut_off(event: Event) -> dict[str, str]:
        return describe(dict(event.data), failed=False)

    @callback
    def failed(event: Event) -> dict[str, str]:
        return describe(dict(event.data), failed=True)

    async_describe_event(DOMAIN, EVENT_SHUT_OFF, shut_off)
    async_describe_event(DOMAIN, EVENT_SHUT_OFF_FAILED, failed)
