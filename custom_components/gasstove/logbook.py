"""Logbook entries for every shut-off: "Kitchen Left burner shut off by timer, set from Assist",
and the stove guard's note of every automatic one ("Left burner shut off after 10 minutes
with nobody in the kitchen.").

A failed one reads "shut-off FAILED ..." with the reason, so the logbook is
the record a person away from home looks at (the history issue). Each line
names the stove and links the burner's state sensor; the event's context
(the service call's) tells Home Assistant which user asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import CONF_STOVE_ID, DOMAIN, EVENT_AUTOMATIC_SHUT_OFF, EVENT_SHUT_OFF, EVENT_SHUT_OFF_FAILED
from .entity import unique_id

#: How each source reads in a sentence.
SOURCES = {
    "button": "from its dashboard button",
    "valve": "by closing its valve",  # the gas valve entity of versions before 1.2
    "number": "from its shut-off-in number",
    "service": "by a service call",
    "assist": "from Assist",
    "timer": "by timer",
    "repair": "from its repair",
    "start": "at start-up",
    "max_burn": "after burning its maximum burn time",
    "inactivity": "with nobody in the kitchen",
}


def describe(data: dict[str, Any], failed: bool, entity_id: str | None = None) -> dict[str, str]:
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
    stove = f"{data['stove']} " if data.get("stove") else ""
    # Events fired before burners had display names carry the key alone.
    name = str(data.get("burner_name") or f"{burner.replace('_', ' ').capitalize()} burner")
    line = {"name": f"{stove}{name}", "message": message}
    if entity_id is not None:
        line["entity_id"] = entity_id
    return line


def burner_entity(hass: HomeAssistant, data: dict[str, Any]) -> str | None:
    """The burner's state sensor, if its stove is still set up."""
    entry = hass.config_entries.async_get_entry(str(data.get("entry_id")))
    if entry is None or CONF_STOVE_ID not in entry.data:
        return None
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, unique_id(entry.data[CONF_STOVE_ID], str(data.get("burner")), "burner"))


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    @callback
    def shut_off(event: Event) -> dict[str, str]:
        return describe(dict(event.data), failed=False, entity_id=burner_entity(hass, event.data))

    @callback
    def failed(event: Event) -> dict[str, str]:
        return describe(dict(event.data), failed=True, entity_id=burner_entity(hass, event.data))

    @callback
    def note(event: Event) -> dict[str, str]:
        """The stove guard's note, in Home Assistant's language as it was given."""
        line = {"name": str(event.data.get("stove", "")), "message": str(event.data.get("message", ""))}
        if entity_id := burner_entity(hass, event.data):
            line["entity_id"] = entity_id
        return line

    async_describe_event(DOMAIN, EVENT_SHUT_OFF, shut_off)
    async_describe_event(DOMAIN, EVENT_SHUT_OFF_FAILED, failed)
    async_describe_event(DOMAIN, EVENT_AUTOMATIC_SHUT_OFF, note)
