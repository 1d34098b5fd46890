"""The button entities of a stove, as Home Assistant registers and shows them (snapshot)."""

from __future__ import annotations

from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .platforms import setup_platform


async def test_entities(hass: HomeAssistant, miio_relay: Any, entity_registry: er.EntityRegistry,
                        snapshot: SnapshotAssertion) -> None:
    entry = await setup_platform(hass, miio_relay, Platform.BUTTON)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
