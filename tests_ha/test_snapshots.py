"""Snapshot (syrupy, as Home Assistant core uses them) of the diagnostics.

The entities are snapshotted per platform (``test_<platform>.py``); the stove is
:func:`tests_ha.platforms.setup_stove`'s. Its simulators' loopback addresses are
replaced by their burner's name before comparing. Update after an intended
change with ``scripts/test-ha tests_ha/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

from custom_components.gasstove.diagnostics import async_get_config_entry_diagnostics
from homeassistant.core import HomeAssistant
from syrupy.assertion import SnapshotAssertion

from .platforms import setup_stove


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


async def test_diagnostics(hass: HomeAssistant, miio_relay: Any, snapshot: SnapshotAssertion) -> None:
    entry, hosts = await setup_stove(hass, miio_relay)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert _without(hosts, diagnostics) == snapshot
