"""Snapshots (syrupy, as Home Assistant core uses them) of every entity and of the diagnostics.

A stove with two simulated miio relays and a 20-minute timer armed at a frozen
instant (only the arming is frozen: the miio driver and the simulators measure
their deadlines and replies on the real clock, and a frozen one makes every
relay read fail). The simulators' loopback addresses depend on which are free,
so they are replaced by their burner's name before comparing. Update after an intended
change with ``scripts/test-ha tests_ha/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

from custom_components.gasstove.const import DOMAIN
from custom_components.gasstove.diagnostics import async_get_config_entry_diagnostics
from freezegun import freeze_time
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from .conftest import SimRelay, entry_data, miio_burner


def _without(hosts: dict[str, str], value: Any) -> Any:
    """``value`` with every simulator address replaced by a stable name."""
    if isinstance(value, dict):
        return {k: _without(hosts, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without(hosts, v) for v in value]
    if isinstance(value, str):
        for host, name in hosts.items():
            value = value.replace(host, name)
    return value


async def _stove(hass: HomeAssistant, miio_relay: Any) -> tuple[MockConfigEntry, dict[str, str]]:
    left: SimRelay = miio_relay("left")
    right: SimRelay = miio_relay("right", wiring="normally_open")
    entry = MockConfigEntry(
        domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid", entry_id="01SNAPSHOTENTRY",
        data=entry_data({"left": miio_burner(left.host),
                         "right": miio_burner(right.host, wiring="normally_open")}),
        options={"aliases": {"left": ["左边"]}, "max_burn_minutes": 90})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    with freeze_time("2024-03-01 12:00:00+00:00"):
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["left"], "delay": "20m"},
                                       blocking=True)
    await hass.async_block_till_done()
    return entry, {left.host: "<left relay>", right.host: "<right relay>"}


async def test_entities(hass: HomeAssistant, miio_relay: Any, snapshot: SnapshotAssertion) -> None:
    entry, hosts = await _stove(hass, miio_relay)
    registry = er.async_get(hass)
    entities: dict[str, Any] = {}
    for item in sorted(er.async_entries_for_config_entry(registry, entry.entry_id),
                       key=lambda e: e.entity_id):
        state = hass.states.get(item.entity_id)
        assert state is not None
        entities[item.entity_id] = {
            "unique_id": item.unique_id, "translation_key": item.translation_key,
            "device_class": item.original_device_class, "entity_category": item.entity_category,
            "state": state.state, "attributes": dict(state.attributes),
        }
    assert _without(hosts, entities) == snapshot


async def test_diagnostics(hass: HomeAssistant, miio_relay: Any, snapshot: SnapshotAssertion) -> None:
    entry, hosts = await _stove(hass, miio_relay)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert _without(hosts, diagnostics) == snapshot
