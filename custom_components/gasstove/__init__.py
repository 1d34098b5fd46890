"""The gasstove integration: timed, remote and voice shut-off of a gas stove.

A relay sits in series with each burner's thermocouple flame-failure loop;
opening it for a few seconds drops the gas safety valve. Nothing here can
open gas (DESIGN.md §2 rule 1): entities and services only cut, lock
(hold the loop open) or unlock (close the loop; relighting stays manual).

Supported Home Assistant versions: 2025.1 (the first with pydantic 2, which
the library needs) and later; tested on 2025.4.4.
"""

from __future__ import annotations

import shutil

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from . import _vendor  # noqa: F401  # must run before any ``gasstove`` import
from .const import DOMAIN
from .coordinator import GasStoveCoordinator, burner_records_path
from .repairs import async_clear_entry
from .services import async_setup_services
from .stove_config import build_relays, stove_config_from_entry

PLATFORMS: list[Platform] = [
    Platform.BUTTON, Platform.NUMBER, Platform.SENSOR, Platform.SWITCH, Platform.VALVE,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Services belong to the integration, not to one stove (intents: ``intent.py``)."""
    hass.data.setdefault(DOMAIN, {})
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    config = stove_config_from_entry(entry)
    if any(burner.relay.type == "mqtt" for burner in config.burners.values()):
        from homeassistant.components import mqtt

        # Waits while the MQTT integration is still being set up (at start-up).
        if not await mqtt.async_wait_for_mqtt_client(hass):
            raise ConfigEntryNotReady("the MQTT integration is not set up")
    async_clear_entry(hass, entry.entry_id, keep=set(config.burners))  # burners removed since
    relays = build_relays(hass, config)
    coordinator = GasStoveCoordinator(hass, entry, relays)
    # Before the first read (as the daemon does at its start): the entities then show a
    # relay a crash left cutting as restored, not as locked.
    await coordinator.async_finish_pulses()
    # A relay that does not answer yet is shown unavailable rather than
    # failing the setup: the timers and the shut-off button must still load.
    await coordinator.async_refresh()
    hass.data.setdefault(DOMAIN, {})[entry.entry_id] = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await coordinator.async_restore_timers()
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def _async_reload(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    unloaded: bool = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        coordinator: GasStoveCoordinator = hass.data[DOMAIN].pop(entry.entry_id)
        await coordinator.async_shutdown()
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
