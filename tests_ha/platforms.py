"""The stove of the snapshot tests: one platform of the integration loaded alone for
the per-platform ones (``test_<platform>.py``, one ``snapshots/test_<platform>.ambr``
each: Home Assistant core's layout, e.g. its peblar integration), all of them for the
diagnostics (``test_snapshots.py``). Update after an intended change with
``scripts/test-ha tests_ha/test_<platform>.py --snapshot-update`` and review the diff.

The stove: two simulated miio relays (one wired normally open), an alias, a
maximum burn time and a 20-minute timer armed at a frozen instant (only the
arming is frozen: the miio driver and the simulators measure their deadlines
and replies on the real clock).
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from custom_components.gasstove import PLATFORMS
from custom_components.gasstove.const import DOMAIN
from freezegun import freeze_time
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import entry_data, miio_burner


async def setup_stove(hass: HomeAssistant, miio_relay: Any,
                      platforms: list[Platform] | None = None) -> tuple[MockConfigEntry, dict[str, str]]:
    """The entry, and the simulators' addresses (they depend on which are free) with a
    stable name for each, to replace them by before comparing."""
    left, right = miio_relay("left"), miio_relay("right", wiring="normally_open")
    entry = MockConfigEntry(
        domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid", entry_id="01SNAPSHOTENTRY",
        data=entry_data({"left": miio_burner(left.host),
                         "right": miio_burner(right.host, wiring="normally_open")}),
        options={"aliases": {"left": ["左边"]}, "max_burn_minutes": 90})
    entry.add_to_hass(hass)
    with patch("custom_components.gasstove.PLATFORMS", platforms or PLATFORMS):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    with freeze_time("2024-03-01 12:00:00+00:00"):
        await hass.services.async_call(DOMAIN, "shut_off", {"burners": ["left"], "delay": "20m"},
                                       blocking=True)
    await hass.async_block_till_done()
    return entry, {left.host: "<left relay>", right.host: "<right relay>"}


async def setup_platform(hass: HomeAssistant, miio_relay: Any, platform: Platform) -> MockConfigEntry:
    entry, _hosts = await setup_stove(hass, miio_relay, [platform])
    return entry
