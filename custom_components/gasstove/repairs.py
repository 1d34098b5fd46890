"""A shut-off that was not confirmed stays in Settings → Repairs until one is.

A notification can be dismissed and an event is gone once fired; the repair
issue is stored by Home Assistant (``is_persistent``), so it is still there
after a restart, until the next confirmed cut of that burner deletes it
(docs/design.md §2 rule 2). Its fix flow tries the shut-off again.

Also here: the entities an update replaced (the gas valve and the lock
switch), named once with what replaces them, so that an automation that used
them can be changed; confirming the issue ends it.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN

ISSUE_SHUT_OFF_FAILED = "shut_off_failed"
ISSUE_REPLACED = "entities_replaced"


def failure_issue_id(entry_id: str, burner: str) -> str:
    return f"{ISSUE_SHUT_OFF_FAILED}_{entry_id}_{burner}"


@callback
def async_report_failure(hass: HomeAssistant, entry: ConfigEntry, burner: str, name: str,
                         message: str) -> None:
    """Create (or bring up to date) the burner's repair issue: which burner (by the name
    people know it by), when, and why. Its data keeps the burner's key, to act on."""
    placeholders = {
        "stove": entry.title,
        "burner": name,
        "when": dt_util.as_local(dt_util.now()).strftime("%Y-%m-%d %H:%M:%S %z"),
        "message": message,
    }
    ir.async_create_issue(
        hass, DOMAIN, failure_issue_id(entry.entry_id, burner),
        is_fixable=True, is_persistent=True, severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_SHUT_OFF_FAILED, translation_placeholders=placeholders,
        data={"entry_id": entry.entry_id, **placeholders, "burner": burner, "name": name},
    )


@callback
def async_clear_failure(hass: HomeAssistant, entry: ConfigEntry, burner: str) -> None:
    """A confirmed cut of the burner: its failure is over."""
    ir.async_delete_issue(hass, DOMAIN, failure_issue_id(entry.entry_id, burner))


@callback
def async_report_replaced(hass: HomeAssistant, entry: ConfigEntry, removed: list[str]) -> None:
    """Name the entities the 1.2 migration removed, and what to use instead."""
    ir.async_create_issue(
        hass, DOMAIN, f"{ISSUE_REPLACED}_{entry.entry_id}",
        is_fixable=True, is_persistent=True, severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_REPLACED,
        translation_placeholders={"stove": entry.title, "entities": ", ".join(removed)},
    )


@callback
def async_clear_entry(hass: HomeAssistant, entry_id: str, keep: set[str] | None = None) -> None:
    """Delete the entry's failure issues, but those of the ``keep`` burners (still
    configured); with no ``keep`` (the stove is removed), every issue of the entry."""
    prefix = failure_issue_id(entry_id, "")
    registry = ir.async_get(hass)
    for domain, issue in list(registry.issues):
        if domain == DOMAIN and issue.startswith(prefix) and issue[len(prefix):] not in (keep or set()):
            ir.async_delete_issue(hass, DOMAIN, issue)
    if keep is None:
        ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_REPLACED}_{entry_id}")


class ShutOffAgainFlow(RepairsFlow):
    """Confirm, then shut the burner off again; the issue goes once a cut is confirmed."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        placeholders = {k: str(self._data.get(k, "")) for k in ("stove", "burner", "when", "message")}
        # Issues stored before burners had display names carry the key alone.
        placeholders["burner"] = str(self._data.get("name", placeholders["burner"]))
        errors: dict[str, str] = {}
        if user_input is not None:
            entry = self.hass.config_entries.async_get_entry(str(self._data.get("entry_id")))
            if entry is None or entry.state is not ConfigEntryState.LOADED:
                return self.async_abort(reason="not_loaded")
            coordinator = entry.runtime_data
            try:
                await coordinator.async_shut_off([str(self._data["burner"])], source="repair")
            except HomeAssistantError as err:
                errors["base"] = "not_confirmed"
                # The reason alone: the form already says which burner was not shut off.
                placeholders["message"] = (err.translation_placeholders or {}).get("reason", str(err))
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(step_id="confirm", data_schema=vol.Schema({}), errors=errors,
                                    description_placeholders=placeholders)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    if issue_id.startswith(ISSUE_REPLACED):
        return ConfirmRepairFlow()
    return ShutOffAgainFlow(dict(data or {}))
