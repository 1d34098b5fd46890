"""The Xiao AI blueprint end to end: hass-xiaomi-miot's conversation sensor, the blueprint
as `stove ha install` puts it, gasstove.say, and the words the speaker would say.

The stand-in sensor is shaped as hass-xiaomi-miot's ``XiaoaiConversationSensor``
(custom_components/xiaomi_miot/sensor.py, al-one/hass-xiaomi-miot c27e19f, July 2026):
it polls Xiaomi's cloud every 5 s for the latest record and writes the state = the
query, attributes ``content`` (the query again), ``answers`` (Xiao AI's own replies),
``history`` (the older queries), ``timestamp`` (the record's time, an aware datetime in
the local zone), plus every sub-entity's ``entity_class`` and ``parent_entity_id`` (the
speaker's media_player). The same sentence said twice changes only ``timestamp``. A
failed poll keeps the state but writes ``content``/``timestamp`` None and empty lists,
and the next good poll brings the same record back; a reload or a restart makes the
entity appear again with the latest record, however old (its issue #1600: an old
sentence replayed at 7:30 started a hot-water pump). None of those may act twice.
The speaker is a stand-in for ``xiaomi_miot.intelligent_speaker`` that records what
it would say.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from custom_components.gasstove.const import DOMAIN
from homeassistant.components.intent.const import TIMER_DATA
from homeassistant.core import HomeAssistant, ServiceCall, State
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
    mock_restore_cache,
)

from gasstove.cli.ha import install_blueprints, write_sentences

from .conftest import DEAD_HOST, SimRelay, entry_data, miio_burner

SENSOR = "sensor.xiaomi_lx06_5a1b_conversation"
SPEAKER = "media_player.xiaomi_lx06_5a1b_play_control"
AUTOMATION = "automation.xiaoai_stove"
BLUEPRINT = "gasstove/xiaoai_stove.yaml"


class Kitchen(NamedTuple):
    left: SimRelay | None
    right: SimRelay | None
    spoken: list[str]  #: what the speaker was asked to say, in order


def _record(query: str, at: datetime, *, answer: str = "好的") -> dict[str, Any]:
    """The sensor's attributes for one record, as fetch_latest_message writes them."""
    return {
        "entity_class": "XiaoaiConversationSensor",
        "parent_entity_id": SPEAKER,
        "content": query,
        "answers": [{"type": "TTS", "tts": {"text": answer}}],
        "history": ["今天天气怎么样", "几点了"],
        "timestamp": at.astimezone(dt_util.get_default_time_zone()),
        "icon": "mdi:account-voice",
        "friendly_name": "Xiaomi lx06 conversation",
    }


def hear(hass: HomeAssistant, query: str, at: datetime | None = None) -> datetime:
    """Xiao AI heard ``query``: the next poll writes it (a new record, a new time)."""
    at = at or dt_util.now()
    hass.states.async_set(SENSOR, query, _record(query, at))
    return at


def poll_failed(hass: HomeAssistant) -> None:
    """A failed cloud poll: the state stays, the record's attributes are emptied."""
    state = hass.states.get(SENSOR)
    assert state is not None
    hass.states.async_set(SENSOR, state.state, {
        **state.attributes, "content": None, "answers": [], "history": [], "timestamp": None})


async def _kitchen(hass: HomeAssistant, tmp_path: Path, burners: dict[str, dict[str, Any]],
                   *, restored: list[State] | None = None) -> list[str]:
    hass.config.config_dir = str(tmp_path)
    aliases = {"left": ["左灶", "左边"], "right": ["右灶", "右边"]}
    write_sentences(tmp_path, {b: aliases[b] for b in burners})
    assert [p.name for p in install_blueprints(tmp_path)] == ["xiaoai_stove.yaml"]
    entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u",
                            data=entry_data(burners, deadline=0.5),
                            options={"aliases": {b: aliases[b] for b in burners}})
    entry.add_to_hass(hass)
    spoken: list[str] = []

    async def intelligent_speaker(call: ServiceCall) -> None:
        assert call.data["entity_id"] == SPEAKER and call.data["execute"] is False
        spoken.append(call.data["text"])

    # hass-xiaomi-miot's service (services.yaml: entity_id, text, execute, silent).
    hass.services.async_register("xiaomi_miot", "intelligent_speaker", intelligent_speaker)
    if restored is not None:
        # Before anything restores: the cache is replaced whole, so the stove's own
        # restoring entities set up first would be lost from it (a KeyError at unload).
        mock_restore_cache(hass, restored)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    # The speaker has answered something before the automation starts: an old record.
    hear(hass, "今天天气怎么样", dt_util.now() - timedelta(minutes=5))
    assert await async_setup_component(hass, "automation", {"automation": {
        "id": "xiaoai_stove", "alias": "xiaoai stove",
        "use_blueprint": {"path": BLUEPRINT, "input": {"conversation": SENSOR}}}})
    await hass.async_block_till_done()
    assert hass.states.get(AUTOMATION) is not None
    return spoken


@pytest.fixture
async def kitchen(hass: HomeAssistant, miio_relay: Any, tmp_path: Path) -> Kitchen:
    left, right = miio_relay("left"), miio_relay("right")
    spoken = await _kitchen(hass, tmp_path, {"left": miio_burner(left.host),
                                             "right": miio_burner(right.host)})
    return Kitchen(left, right, spoken)


def relight(relay: SimRelay) -> None:
    relay.burner.push_and_turn()
    relay.clock[0] += 5
    relay.burner.release()
    assert relay.lit


def _due(hass: HomeAssistant, burner: str) -> datetime | None:
    state = hass.states.get(f"sensor.kitchen_{burner}_scheduled_shut_off")
    assert state is not None
    return dt_util.parse_datetime(state.state)


def _ha_timers(hass: HomeAssistant) -> list[Any]:
    return list(hass.data[TIMER_DATA].timers.values())


async def _said(hass: HomeAssistant, kitchen: Kitchen, count: int) -> None:
    """Wait (a few real seconds at most: the relay's deadline) until ``count`` things were said."""
    for _ in range(250):
        await hass.async_block_till_done()
        if len(kitchen.spoken) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"said only {kitchen.spoken}")


async def _heard(hass: HomeAssistant, query: str, at: datetime | None = None) -> datetime:
    at = hear(hass, query, at)
    await hass.async_block_till_done()
    return at


async def test_a_timer_said_to_xiao_ai_is_set_and_answered(hass: HomeAssistant,
                                                           kitchen: Kitchen) -> None:
    await _heard(hass, "十分钟后关火")
    assert kitchen.spoken == ["好的，左灶、右灶10分钟后关火。"]
    for burner in ("left", "right"):
        due = _due(hass, burner)
        assert due is not None
        assert abs((due - dt_util.utcnow()).total_seconds() - 600) < 5
    assert kitchen.left and kitchen.left.lit and kitchen.right and kitchen.right.lit
    await _heard(hass, "五分钟后关掉左边的火")
    assert kitchen.spoken[-1] == "好的，左灶5分钟后关火。"
    await _heard(hass, "还有多久关火")
    assert kitchen.spoken[-1].startswith("左灶可以点火，5分钟后关火"), kitchen.spoken[-1]
    await _heard(hass, "取消定时关火")
    assert kitchen.spoken[-1] == "已取消左灶、右灶的定时关火。"
    assert _due(hass, "left") is None and _due(hass, "right") is None
    await _heard(hass, "马上关掉右边的火")
    assert kitchen.spoken[-1] == "好的，右灶已关火。"
    assert not kitchen.right.lit and kitchen.left.lit
    assert _ha_timers(hass) == []


async def test_other_sentences_are_left_to_xiao_ai(hass: HomeAssistant, kitchen: Kitchen) -> None:
    hass.states.async_set("light.kitchen", "off", {"friendly_name": "厨房灯"})
    switched = async_mock_service(hass, "light", "turn_on")
    for query in ("今天天气怎么样", "打开厨房灯", "五分钟后关灯", "火车几点到"):
        await _heard(hass, query)
    assert kitchen.spoken == []
    assert switched == []  # Xiao AI's own business (conversation.process would switch it)
    assert _ha_timers(hass) == []  # nor Home Assistant's delayed commands
    assert _due(hass, "left") is None and _due(hass, "right") is None
    assert kitchen.left and kitchen.left.lit and kitchen.right and kitchen.right.lit


@pytest.mark.parametrize("query", ["十分钟后点火", "十分钟后打开燃气灶", "三十个小时后关火",
                                   "五分钟后关掉中间的火"])
async def test_a_stove_sentence_not_understood_is_answered(hass: HomeAssistant, kitchen: Kitchen,
                                                           query: str) -> None:
    await _heard(hass, query)
    assert kitchen.spoken == ["抱歉，没听懂，什么也没做。"]
    assert _due(hass, "left") is None and _due(hass, "right") is None
    assert kitchen.left and kitchen.left.lit and kitchen.right and kitchen.right.lit
    assert _ha_timers(hass) == []


async def test_a_failed_shut_off_is_said_as_one(hass: HomeAssistant, tmp_path: Path,
                                                loopback_sockets: None) -> None:
    spoken = await _kitchen(hass, tmp_path, {"left": miio_burner(DEAD_HOST)})
    await _heard(hass, "马上关火")
    # Once: the answer to the sentence (its failure event is the voice path's own).
    assert spoken == ["警告：左灶的关火没有得到确认，请马上检查灶具。"]


async def test_a_timer_that_fails_later_is_said_on_the_speaker(hass: HomeAssistant,
                                                               kitchen: Kitchen) -> None:
    """Ten minutes after "十分钟后关火" nobody may be in the kitchen: the speaker says it."""
    await _heard(hass, "五分钟后关掉左边的火")
    assert kitchen.spoken == ["好的，左灶5分钟后关火。"]
    assert kitchen.left
    kitchen.left.device.settings.loss = 1.0  # the relay stops answering
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5, seconds=1))
    await _said(hass, kitchen, 2)  # the timer's attempt runs in the background
    assert kitchen.spoken[1:] == ["警告：左灶的关火没有得到确认，请马上检查灶具。"]
    assert kitchen.left.lit
    # Each failed attempt is said: the next comes 5 s later.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await _said(hass, kitchen, 3)
    assert kitchen.spoken[1:] == ["警告：左灶的关火没有得到确认，请马上检查灶具。"] * 2


async def test_the_same_sentence_again_is_a_new_command(hass: HomeAssistant,
                                                        kitchen: Kitchen) -> None:
    first = await _heard(hass, "五分钟后关火")
    await _heard(hass, "五分钟后关火", first + timedelta(seconds=20))
    assert kitchen.spoken == ["好的，左灶、右灶5分钟后关火。"] * 2


async def test_nothing_but_a_new_sentence_is_handled(hass: HomeAssistant,
                                                     kitchen: Kitchen) -> None:
    """A state written again, with or without the record, is never a second command."""
    said = await _heard(hass, "马上关掉左边的火")
    assert kitchen.spoken == ["好的，左灶已关火。"]
    assert kitchen.left
    relight(kitchen.left)  # by hand: a second cut would show
    # Xiao AI's answers arrive later: an attribute refresh of the same record.
    state = hass.states.get(SENSOR)
    assert state is not None
    hass.states.async_set(SENSOR, state.state, {**state.attributes, "answers": []})
    await hass.async_block_till_done()
    # A failed poll, then the same record again.
    poll_failed(hass)
    await hass.async_block_till_done()
    await _heard(hass, "马上关掉左边的火", said)
    # The speaker unavailable, then back with its last record.
    hass.states.async_set(SENSOR, "unavailable", {"friendly_name": "Xiaomi lx06 conversation"})
    await hass.async_block_till_done()
    await _heard(hass, "马上关掉左边的火", said)
    # hass-xiaomi-miot reloaded: the entity is gone, then back with its last record.
    hass.states.async_remove(SENSOR)
    await hass.async_block_till_done()
    await _heard(hass, "马上关掉左边的火", said)
    # The cloud hands back an older record than the one shown, then the latest again.
    await _heard(hass, "马上关火", said - timedelta(seconds=30))
    await _heard(hass, "马上关掉左边的火", said)
    assert kitchen.spoken == ["好的，左灶已关火。"]
    assert kitchen.left.lit and kitchen.right and kitchen.right.lit


async def test_an_old_sentence_shown_late_is_not_acted_on(hass: HomeAssistant,
                                                          kitchen: Kitchen) -> None:
    """A record older than max_age (60 s) when it shows up: Home Assistant was down when it
    was said, or the cloud was late. Ten minutes on, "关火" is no longer what anyone wants."""
    hass.states.async_remove(SENSOR)
    await hass.async_block_till_done()
    await _heard(hass, "马上关火", dt_util.now() - timedelta(minutes=10))
    assert kitchen.spoken == []
    assert kitchen.left and kitchen.left.lit and kitchen.right and kitchen.right.lit


async def test_a_restart_does_not_replay_the_last_sentence(hass: HomeAssistant, miio_relay: Any,
                                                           tmp_path: Path) -> None:
    """Home Assistant restarted 20 s after "马上关火" was handled: the automation's restored
    last run is after the sentence, and the sensor shows that record again."""
    left = miio_relay("left")
    said = dt_util.now() - timedelta(seconds=20)
    ran = said + timedelta(seconds=3)
    spoken = await _kitchen(hass, tmp_path, {"left": miio_burner(left.host)}, restored=[
        State(AUTOMATION, "on", {"last_triggered": ran.isoformat()})])
    hass.states.async_remove(SENSOR)
    await hass.async_block_till_done()
    await _heard(hass, "马上关火", said)
    assert spoken == []
    assert left.lit
    # A sentence said after that run is one.
    await _heard(hass, "马上关火")
    assert spoken == ["好的，左灶已关火。"]
    assert not left.lit



def test_the_blueprint_is_where_an_import_puts_it() -> None:
    """Imported from GitHub, Home Assistant saves it as <owner>/<file> (blueprint/importer.py):
    the same path as `stove ha install`'s, and its source_url is this very file."""
    from homeassistant.util.yaml import load_yaml

    from .conftest import ROOT

    path = ROOT / "blueprints" / "automation" / BLUEPRINT
    data: Any = load_yaml(path)
    source_url = data["blueprint"]["source_url"]
    assert source_url == f"https://github.com/gasstove/gasstove/blob/main/{path.relative_to(ROOT)}"
    assert source_url.split("/")[3] == BLUEPRINT.split("/")[0]  # the owner is the folder
