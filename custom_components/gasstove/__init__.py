"""The gasstove integration: timed, remote and voice shut-off of a gas stove.

A relay sits in series with each burner's thermocouple flame-failure loop;
opening it for a few seconds drops the gas safety valve. Nothing here can
open gas (docs/design.md §2 rule 1): entities and services only cut, lock
(hold the loop open) or unlock (close the loop; relighting stays manual).

Supported Home Assistant versions: 2025.1 (the first with pydantic 2, which
the library needs) and later; tested on 2025.4.4.
"""

from __future__ import annotations

import logging
import shutil

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CoreState, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.typing import ConfigType

from . import _vendor  # noqa: F401  # must run before any ``gasstove`` import
from .const import CONF_STOVE_ID, DOMAIN
from .coordinator import GasStoveConfigEntry, GasStoveCoordinator, burner_records_path
from .repairs import async_clear_entry, async_report_replaced
from .services import async_setup_services
from .stove_config import build_relays, stove_config_from_entry

_LOGGER = logging.getLogger(__name__)

#: No platform whose entities the entities card's header toggle switches
#: (switch, light, fan, valve...: tests_ha/test_entities.py): one tap there must
#: never lock or cut every burner at once.
PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR, Platform.BUTTON, Platform.LOCK, Platform.NUMBER, Platform.SENSOR,
]

#: Entities of entries before 1.2, removed by the migration: (domain, unique-id suffix).
#: The gas valve read "open" at rest and as a toggle (the burner's state sensor and
#: button replace it); the lock was a switch, which the entities card's header toggle
#: switched for every burner (the lock entity replaces it).
REPLACED = {("valve", "_valve"), ("switch", "_lock")}

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Services belong to the integration, not to one stove (intents: ``intent.py``)."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """1.1 -> 1.2: the stove gets an id of its own, and the gas valve and lock switch go.

    The id is what the entity unique ids and the device identifier were built on
    (the entry's unique id, the first relay's address when it was created), kept
    from then on whatever reconfigure changes: entity ids, history and
    automations stay. The valve and switch entities are removed from the entity
    registry (else they would linger as "unavailable"), and a repair issue names
    them and what replaces them.
    """
    if entry.version > 1:
        return False  # made by a newer gasstove: this one cannot read it
    if entry.minor_version < 2:
        registry = er.async_get(hass)
        removed: list[str] = []
        for item in er.async_entries_for_config_entry(registry, entry.entry_id):
            if any(item.domain == domain and item.unique_id.endswith(suffix)
                   for domain, suffix in REPLACED):
                registry.async_remove(item.entity_id)
                removed.append(item.entity_id)
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_STOVE_ID: entry.unique_id or entry.entry_id},
            minor_version=2)
        if removed:
            _LOGGER.warning("%s: removed %s (replaced: see Settings > Repairs)",
                            entry.title, ", ".join(removed))
            async_report_replaced(hass, entry, removed)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: GasStoveConfigEntry) -> bool:
    config = stove_config_from_entry(entry)
    if any(burner.relay.type == "mqtt" for burner in config.burners.values()):
        from homeassistant.components import mqtt

        # Waits while the MQTT integration is still being set up (at start-up).
        if not await mqtt.async_wait_for_mqtt_client(hass):
            raise ConfigEntryNotReady("the MQTT integration is not set up")
    async_clear_entry(hass, entry.entry_id, keep=set(config.burners))  # burners removed since
    relays = build_relays(hass, config)
    coordinator = GasStoveCoordinator(hass, entry, relays)
    # A switch entity of another integration may not exist yet while Home Assistant
    # starts: restoring its pulse, or firing an overdue timer, waits until it has started.
    wait_for_start = hass.state is not CoreState.running and any(
        burner.relay.type == "hass" for burner in config.burners.values())
    # Before the first read (as the daemon does at its start): the entities then show a
    # relay a crash left cutting as restored, not as locked.
    if not wait_for_start:
        await coordinator.async_finish_pulses()
    # A relay that does not answer yet is shown unavailable rather than
    # failing the setup: the timers and the shut-off button must still load.
    await coordinator.async_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if wait_for_start:
        async def started(_hass: HomeAssistant) -> None:
            await coordinator.async_finish_pulses()
            await coordinator.async_restore_timers()

        entry.async_on_unload(async_at_started(hass, started))
    else:
        await coordinator.async_restore_timers()
    coordinator.flames.start()
    coordinator.guard.start()
    if switches := [b.relay.entity_id for b in config.burners.values() if b.relay.type == "hass"]:
        # Home Assistant hears a switch's changes as they happen (a relay switched by
        # hand, a device gone unavailable): show them now, not at the next poll.
        @callback
        def relay_changed(_event: Event) -> None:
            hass.async_create_task(coordinator.async_request_refresh())

        entry.async_on_unload(async_track_state_change_event(hass, switches, relay_changed))
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def _async_reload(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: GasStoveConfigEntry) -> bool:
    unloaded: bool = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Removing a stove forgets its timers, its burners' records and its shut-off failures too."""
    async_clear_entry(hass, entry.entry_id)
    from homeassistant.helpers.storage import Store

    from .const import STORAGE_VERSION

    await Store[dict[str, object]](hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.timers").async_remove()
    # In the executor: rmtree lists the directory (os.scandir), which HA reports on the loop.
    # ignore_errors: a stove never acted on has no records, and nothing may stop a removal.
    await hass.async_add_executor_job(shutil.rmtree, burner_records_path(hass, entry.entry_id), True)
