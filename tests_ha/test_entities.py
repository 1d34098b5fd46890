"""What a Home Assistant user sees of the gas: nothing reads "on", every action is one burner's.

Issue 21 items 1-3 and issue 15 item 5 (entities), against simulated miio relays
on real UDP. No entity offers a control that looks like it could open gas, no
entity is of a domain the entities card's header toggle switches, the burner's
state and its last shut-off say what happened the moment it happens, and an
install from before keeps its entity ids while the valve and lock switch go.
"""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from typing import Any

import pytest
from custom_components.gasstove.const import DOMAIN
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
    async_fire_time_changed,
)

from gasstove import __version__

from .conftest import ROOT, entry_data, miio_burner, set_up_stove

COMPONENT = ROOT / "custom_components" / "gasstove"

#: Domains whose entities the entities card's header toggle switches, all at once:
#: ``DOMAINS_TOGGLE`` of home-assistant/frontend (src/common/const.ts: "Entities card
#: uses this to determine which entities are controlled by the header toggle";
#: hui-entities-toggle.ts filters the card's entities with it). The union of its
#: versions: "valve" joined in 2024, "humidifier" earlier.
HEADER_TOGGLE_DOMAINS = {"fan", "input_boolean", "light", "switch", "group", "automation",
                         "humidifier", "valve"}

BURNER = "sensor.kitchen_left_burner"
LAST = "sensor.kitchen_left_last_shut_off"
BUTTON = "button.kitchen_left_shut_off_now"
LOCK = "lock.kitchen_left_lock"
PROBLEM = "binary_sensor.kitchen_left_shut_off_problem"
CONNECTION = "binary_sensor.kitchen_left_relay_connection"
NUMBER = "number.kitchen_left_shut_off_in"


def _states(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    registry = er.async_get(hass)
    return {item.entity_id: hass.states.get(item.entity_id).state  # type: ignore[union-attr]
            for item in er.async_entries_for_config_entry(registry, entry.entry_id)}


def _record(hass: HomeAssistant, *entity_ids: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every state the entities take from now on, in order."""
    seen: list[tuple[str, str, dict[str, Any]]] = []

    @callback
    def changed(event: Event) -> None:
        new = event.data["new_state"]
        if new is not None and event.data["entity_id"] in entity_ids:
            seen.append((new.entity_id, new.state, dict(new.attributes)))

    hass.bus.async_listen("state_changed", changed)
    return seen


async def test_no_entity_is_one_a_header_toggle_switches(hass: HomeAssistant, stove: Any) -> None:
    """One careless tap on a card's header toggle must not lock or cut every burner."""
    entry, _left, _right = stove
    domains = {entity_id.split(".")[0] for entity_id in _states(hass, entry)}
    assert domains == {"binary_sensor", "button", "lock", "number", "sensor"}
    assert not domains & HEADER_TOGGLE_DOMAINS


async def test_the_gas_never_reads_open_or_on(hass: HomeAssistant, stove: Any) -> None:
    """At rest and right after a confirmed cut: the burner is "ready" (can be lit by hand),
    the last shut-off "confirmed"; no state anywhere reads open/on but the relay's link."""
    entry, left, _right = stove
    at_rest = _states(hass, entry)
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert not left.lit
    after_cut = _states(hass, entry)
    for states in (at_rest, after_cut):
        assert states[BURNER] == "ready"
        assert states[LOCK] == "unlocked"
        on = {e for e, s in states.items() if s in ("on", "open", "opening", "closing")}
        assert on == {CONNECTION, "binary_sensor.kitchen_right_relay_connection"}
    assert at_rest[LAST] == STATE_UNKNOWN
    assert after_cut[LAST] == "confirmed"


async def test_a_shut_off_shows_as_it_happens_and_who_asked(
    hass: HomeAssistant, stove: Any, hass_admin_user: MockUser,
) -> None:
    _entry, left, _right = stove
    seen = _record(hass, BURNER, LAST)
    events = async_capture_events(hass, "gasstove_shut_off")
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True,
                                   context=context)
    assert [(e, s) for e, s, _ in seen] == [
        (BURNER, "shutting_off"), (LAST, "shutting_off"), (BURNER, "ready"), (LAST, "confirmed")]
    attributes = seen[-1][2]
    assert attributes["source"] == "button"
    assert attributes["user"] == hass_admin_user.name
    assert isinstance(attributes["confirmed_in_ms"], int)
    assert "reason" not in attributes
    assert [e.context.user_id for e in events] == [hass_admin_user.id]
    assert not left.lit


async def test_a_failed_shut_off_is_a_problem_until_one_is_confirmed(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    left = miio_relay("left")
    await set_up_stove(hass, {"left": miio_burner(left.host)})
    assert hass.states.get(PROBLEM).state == "off"
    assert hass.states.get(CONNECTION).state == "on"
    left.device.settings.loss = 1.0  # its Wi-Fi is gone
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert hass.states.get(PROBLEM).state == "on"
    assert "NOT confirmed" in hass.states.get(PROBLEM).attributes["reason"]
    last = hass.states.get(LAST)
    assert last.state == "failed"
    assert "NOT confirmed" in last.attributes["reason"]
    assert hass.states.get(CONNECTION).state == "off"
    assert hass.states.get(BURNER).state == "unreachable"
    assert hass.states.get(LOCK).state == STATE_UNKNOWN

    left.device.settings.loss = 0.0
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert hass.states.get(PROBLEM).state == "off"
    assert hass.states.get(LAST).state == "confirmed"
    assert hass.states.get(CONNECTION).state == "on"
    assert not left.lit


async def test_the_problem_outlives_a_restart(hass: HomeAssistant, miio_relay: Any) -> None:
    left = miio_relay("left")
    entry = await set_up_stove(hass, {"left": miio_burner(left.host)})
    left.device.settings.loss = 1.0
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    left.device.settings.loss = 0.0
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "on"  # from its repair issue, which is stored
    assert hass.states.get(LAST).state == "failed"  # restored


async def test_lock_entity_states_and_icons(hass: HomeAssistant, stove: Any) -> None:
    entry, left, _right = stove
    seen = _record(hass, LOCK)
    await hass.services.async_call("lock", "lock", {"entity_id": LOCK}, blocking=True)
    assert [s for _, s, _ in seen] == ["locking", "locked"]
    assert hass.states.get(BURNER).state == "locked"
    assert left.device.energised  # the loop is held open
    await hass.services.async_call("lock", "unlock", {"entity_id": LOCK}, blocking=True)
    assert [s for _, s, _ in seen][2:] == ["unlocking", "unlocked"]
    assert hass.states.get(BURNER).state == "ready"

    # A lock asked for, but a power cut released the relay: the lock is not in effect.
    await hass.services.async_call("lock", "lock", {"entity_id": LOCK}, blocking=True)
    left.device.restart()
    await entry.runtime_data.async_refresh()
    assert hass.states.get(LOCK).state == "jammed"
    assert hass.states.get(BURNER).state == "ready"

    # The icons come from icons.json, per state (no icon in the state: it would win).
    assert "icon" not in hass.states.get(LOCK).attributes
    icons = json.loads((COMPONENT / "icons.json").read_text())["entity"]["lock"]["lock"]["state"]
    assert icons["locked"] != icons["unlocked"]
    assert icons["unlocked"] == "mdi:lock-open-variant"


async def test_minutes_left_count_down_without_a_poll(
    hass: HomeAssistant, stove: Any, freezer: FrozenDateTimeFactory,
) -> None:
    entry, _left, _right = stove
    entry.runtime_data.update_interval = None  # no poll: the countdown must not need one
    await hass.services.async_call("number", "set_value", {"entity_id": NUMBER, "value": 20},
                                   blocking=True)
    assert hass.states.get(NUMBER).state == "20"  # at once
    for left in (19, 18, 17):
        freezer.tick(timedelta(seconds=59))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        assert hass.states.get(NUMBER).state == str(left + 1)
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        assert hass.states.get(NUMBER).state == str(left)
    await hass.services.async_call("number", "set_value", {"entity_id": NUMBER, "value": 0},
                                   blocking=True)
    assert hass.states.get(NUMBER).state == "0"  # at once


async def test_device_and_entity_ids_survive_a_new_relay(hass: HomeAssistant, stove: Any) -> None:
    """The device and entity ids hang on the stove's own id, not on its first relay's
    address (the entry's unique id): a reconfigured relay changes neither."""
    entry, _left, _right = stove
    registry = er.async_get(hass)
    before = {e.entity_id: e.unique_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert [d.sw_version for d in devices] == [__version__]
    identifiers = devices[0].identifiers
    hass.config_entries.async_update_entry(entry, unique_id="127.0.0.99 siid 2 piid 1")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    after = {e.entity_id: e.unique_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    assert after == before
    assert [d.identifiers for d in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)] \
        == [identifiers]


async def test_an_install_from_before_keeps_its_ids_and_loses_the_valve(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    """Entries before 1.2: entity ids (even renamed ones) stay; the valve and the lock
    switch leave the registry (no "unavailable" ghosts) and a repair issue names them."""
    left = miio_relay("left")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(left.host)}), version=1,
                            minor_version=1)
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    old = {
        ("valve", "kitchen-uid_left_valve", "kitchen_left_gas"),
        ("switch", "kitchen-uid_left_lock", "kitchen_left_lock"),
        ("button", "kitchen-uid_left_shut_off", "my_left_off"),  # renamed by its user
    }
    for domain, unique_id, object_id in old:
        registry.async_get_or_create(domain, DOMAIN, unique_id, config_entry=entry,
                                     suggested_object_id=object_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.minor_version == 2
    assert entry.data["stove_id"] == "kitchen-uid"
    assert registry.async_get("valve.kitchen_left_gas") is None
    assert registry.async_get("switch.kitchen_left_lock") is None
    assert hass.states.get("valve.kitchen_left_gas") is None
    assert registry.async_get("button.my_left_off").unique_id == "kitchen-uid_left_shut_off"
    await hass.services.async_call("button", "press", {"entity_id": "button.my_left_off"},
                                   blocking=True)
    assert not left.lit
    assert hass.states.get(LOCK) is not None

    issue_id = f"entities_replaced_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.is_fixable
    assert "valve.kitchen_left_gas" in issue.translation_placeholders["entities"]
    assert "switch.kitchen_left_lock" in issue.translation_placeholders["entities"]
    assert await async_setup_component(hass, "repairs", {})
    flow = await repairs_flow_manager(hass).async_init(DOMAIN, data={"issue_id": issue_id})
    assert flow["step_id"] == "confirm"
    await repairs_flow_manager(hass).async_configure(flow["flow_id"], {})
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


def test_every_platform_says_how_many_actions_may_run_at_once() -> None:
    """0: burners are independent; one dead relay must not hold up another burner."""
    for platform in ("binary_sensor", "button", "lock", "number", "sensor"):
        module = importlib.import_module(f"custom_components.gasstove.{platform}")
        assert module.PARALLEL_UPDATES == 0, platform


async def test_icons_come_from_icons_json(hass: HomeAssistant, stove: Any) -> None:
    entry, _left, _right = stove
    icons = json.loads((COMPONENT / "icons.json").read_text())["entity"]
    registry = er.async_get(hass)
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        assert "icon" not in hass.states.get(item.entity_id).attributes, item.entity_id
        assert item.translation_key in icons[item.domain], item.entity_id


async def test_a_flame_input_shows_the_burner_burning(hass: HomeAssistant, miio_relay: Any) -> None:
    """With a flame input (flame.py): lit shows "burning", out "ready"."""
    left = miio_relay("left")
    hass.states.async_set("binary_sensor.left_flame", "on")
    await set_up_stove(hass, {"left": miio_burner(left.host)},
                 options={"flame": {"left": {"flame_entity": "binary_sensor.left_flame"}}})
    assert hass.states.get(BURNER).state == "burning"
    hass.states.async_set("binary_sensor.left_flame", "off")
    await hass.async_block_till_done()
    assert hass.states.get(BURNER).state == "ready"


async def test_a_service_call_names_its_user(
    hass: HomeAssistant, stove: Any, hass_admin_user: MockUser,
) -> None:
    events = async_capture_events(hass, "gasstove_shut_off")
    await hass.services.async_call(DOMAIN, "shut_off", {"burners": "right"}, blocking=True,
                                   context=Context(user_id=hass_admin_user.id))
    assert [e.context.user_id for e in events] == [hass_admin_user.id]
    last = hass.states.get("sensor.kitchen_right_last_shut_off")
    assert (last.state, last.attributes["source"], last.attributes["user"]) == (
        "confirmed", "service", hass_admin_user.name)


def _keys(tree: Any, path: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {path}
    return {k for key, value in tree.items() for k in _keys(value, f"{path}/{key}")}


def test_every_entity_word_is_in_both_languages_and_every_state_has_one() -> None:
    from custom_components.gasstove.sensor import BURNER_STATES, LAST_RESULTS

    en = json.loads((COMPONENT / "translations" / "en.json").read_text())["entity"]
    zh = json.loads((COMPONENT / "translations" / "zh-Hans.json").read_text())["entity"]
    strings = json.loads((COMPONENT / "strings.json").read_text())["entity"]
    assert en == strings
    assert _keys(zh) == _keys(en)
    for text in _keys(zh):
        leaf = zh
        for part in text.strip("/").split("/"):
            leaf = leaf[part]
        words = str(leaf).replace("{burner}", "")
        assert not any(c.isascii() and c.isalpha() for c in words), (text, leaf)  # all Chinese
    assert set(en["sensor"]["burner"]["state"]) == set(BURNER_STATES)
    assert set(en["sensor"]["last_shut_off"]["state"]) == set(LAST_RESULTS)


async def test_no_entity_is_handed_to_voice_assistants_by_default(hass: HomeAssistant, stove: Any) -> None:
    """Assist (and the cloud assistants that follow its choice) get none of the entities
    unless the user exposes them: "turn off all switches" can no longer unlock a burner."""
    from homeassistant.components.homeassistant.exposed_entities import async_should_expose

    assert await async_setup_component(hass, "homeassistant", {})
    entry, _left, _right = stove
    exposed = [e for e in _states(hass, entry) if async_should_expose(hass, "conversation", e)]
    assert exposed == []


async def test_an_entry_from_a_newer_gasstove_is_not_touched(hass: HomeAssistant, miio_relay: Any) -> None:
    """Version 2 would be a newer gasstove's: this one cannot read it and says so
    (Home Assistant shows "migration error") rather than guess at its data."""
    from homeassistant.config_entries import ConfigEntryState

    left = miio_relay("left")
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                            data=entry_data({"left": miio_burner(left.host)}), version=2)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert "stove_id" not in entry.data


async def test_a_cut_whose_restore_fails_says_the_relay_was_left_cutting(
    hass: HomeAssistant, miio_relay: Any,
) -> None:
    """The gas went off (confirmed), but the relay stopped answering during the pulse: the
    loop stays open, so the burner cannot be relit until someone unlocks it."""
    from unittest.mock import patch

    from custom_components.gasstove import coordinator

    left = miio_relay("left")
    await set_up_stove(hass, {"left": miio_burner(left.host)})

    async def wifi_gone_mid_pulse(seconds: float) -> None:
        left.device.settings.loss = 1.0

    with patch.object(coordinator, "async_pulse_wait", wifi_gone_mid_pulse), \
            pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert not left.lit and left.device.energised  # out, and the loop still open
    last = hass.states.get(LAST)
    assert last.state == "not_restored"
    assert "did not restore" in last.attributes["reason"]
    assert isinstance(last.attributes["confirmed_in_ms"], int)
    assert hass.states.get(BURNER).state == "left_cutting"
    assert hass.states.get(LOCK).state == "locked"  # held off: unlocking releases it
    assert hass.states.get(PROBLEM).state == "off"  # the shut-off itself was confirmed
    left.device.settings.loss = 0.0
    await hass.services.async_call("lock", "unlock", {"entity_id": LOCK}, blocking=True)
    assert hass.states.get(BURNER).state == "ready" and not left.device.energised
