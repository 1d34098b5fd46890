"""After a power cut (issue 16 item 6): the rule, one test per case, and each dialect's read."""

from __future__ import annotations

import json

import pytest

from gasstove.domain.dialects import EspHome, Shelly, ShellyRpc, Tasmota, Zigbee2Mqtt
from gasstove.domain.dialects.base import ParseError
from gasstove.domain.plan import Wiring
from gasstove.domain.power_on import PowerOn, after_power_cut, rest_setting

NC, NO = Wiring.NORMALLY_CLOSED, Wiring.NORMALLY_OPEN


# -- the rule ------------------------------------------------------------------------


def test_the_right_setting_is_the_wirings_rest_state() -> None:
    assert rest_setting(NC) is PowerOn.OFF  # released: the loop closed through NC
    assert rest_setting(NO) is PowerOn.ON  # energised: the loop closed through NO


@pytest.mark.parametrize(("wiring", "setting"), [(NC, PowerOn.OFF), (NO, PowerOn.ON)])
def test_coming_back_at_rest_is_right_and_says_a_lock_is_lost(wiring: Wiring,
                                                              setting: PowerOn) -> None:
    found = after_power_cut(wiring, setting)
    assert found.ok and "at rest" in found.says and "lock does not survive" in found.says


@pytest.mark.parametrize(("wiring", "setting"), [(NC, PowerOn.ON), (NO, PowerOn.OFF)])
def test_coming_back_cutting_holds_every_burner_off(wiring: Wiring, setting: PowerOn) -> None:
    found = after_power_cut(wiring, setting)
    assert not found.ok and "CUTTING" in found.says and "until restored" in found.says
    assert found.wanted is rest_setting(wiring)


def test_normally_closed_on_and_locked_cannot_even_be_unlocked() -> None:
    found = after_power_cut(NC, PowerOn.ON_LOCKED)
    assert not found.ok and "CUTTING" in found.says and "stove unlock" in found.says


def test_normally_open_on_and_locked_never_cuts() -> None:
    # At rest after the power cut, but it refuses every command: no shut-off works.
    found = after_power_cut(NO, PowerOn.ON_LOCKED)
    assert not found.ok and "no cut can ever be made" in found.says


@pytest.mark.parametrize("wiring", [NC, NO])
def test_last_state_leaves_a_cut_short_by_the_power_cut_held(wiring: Wiring) -> None:
    found = after_power_cut(wiring, PowerOn.LAST)
    assert not found.ok and "a cut under way when the power failed stays cut" in found.says


@pytest.mark.parametrize("wiring", [NC, NO])
def test_toggle_cuts_after_a_power_cut_at_rest(wiring: Wiring) -> None:
    found = after_power_cut(wiring, PowerOn.TOGGLE)
    assert not found.ok and "cutting after a power cut while it was at rest" in found.says


@pytest.mark.parametrize("wiring", [NC, NO])
def test_inverted_pulse_time_ends_every_rest_and_lock(wiring: Wiring) -> None:
    found = after_power_cut(wiring, PowerOn.OFF_THEN_ON)
    assert not found.ok and "ends by itself" in found.says


@pytest.mark.parametrize("wiring", [NC, NO])
def test_following_a_wall_switch_is_not_ours(wiring: Wiring) -> None:
    found = after_power_cut(wiring, PowerOn.MATCH_INPUT)
    assert not found.ok and "wall-switch input" in found.says


def test_every_setting_has_a_finding_for_every_wiring() -> None:
    for wiring in Wiring:
        for setting in PowerOn:
            found = after_power_cut(wiring, setting)
            assert found.ok is (setting is rest_setting(wiring)), (wiring, setting)


# -- what each dialect asks and reads ------------------------------------------------


def test_tasmota_asks_power_on_state_without_an_argument_and_reads_its_answer() -> None:
    relay = Tasmota("left", channel=2)
    [query] = relay.power_on_query()
    assert (query.topic, query.payload) == ("cmnd/left/PowerOnState", "")  # only reports
    for value, setting in enumerate([PowerOn.OFF, PowerOn.ON, PowerOn.TOGGLE, PowerOn.LAST,
                                     PowerOn.ON_LOCKED, PowerOn.OFF_THEN_ON]):
        report = relay.parse("stat/left/RESULT", json.dumps({"PowerOnState": value}).encode())
        assert report is not None and report.power_on is setting and report.energised is None
    for bad in (6, -1, "3", True, None):
        with pytest.raises(ParseError):
            relay.parse("stat/left/RESULT", json.dumps({"PowerOnState": bad}).encode())
    assert "`PowerOnState 0` to cmnd/left/PowerOnState" in relay.power_on_fix(PowerOn.OFF)
    assert "`PowerOnState 1`" in relay.power_on_fix(PowerOn.ON)


def test_zigbee2mqtt_gets_power_on_behavior_and_keeps_the_state_beside_it() -> None:
    relay = Zigbee2Mqtt("plug")
    [query] = relay.power_on_query()
    assert (query.topic, json.loads(query.payload)) == ("zigbee2mqtt/plug/get",
                                                        {"power_on_behavior": ""})
    report = relay.parse("zigbee2mqtt/plug", b'{"state":"OFF","power_on_behavior":"previous"}')
    assert report is not None and report.power_on is PowerOn.LAST and report.energised is False
    # Another maker's word costs nothing: the state still counts, the setting is unknown.
    report = relay.parse("zigbee2mqtt/plug", b'{"state":"ON","power_on_behavior":"memory"}')
    assert report is not None and report.power_on is None and report.energised is True
    assert relay.power_on_fix(PowerOn.OFF) == \
        'publish {"power_on_behavior": "off"} to zigbee2mqtt/plug/set'
    left = Zigbee2Mqtt("strip", endpoint="l2")
    assert json.loads(left.power_on_query()[0].payload) == {"power_on_behavior_l2": ""}
    report = left.parse("zigbee2mqtt/strip", b'{"power_on_behavior_l1":"on",'
                                             b'"power_on_behavior_l2":"off"}')
    assert report is not None and report.power_on is PowerOn.OFF


def test_shelly_rpc_reads_initial_state_from_its_own_get_config_reply() -> None:
    relay = ShellyRpc("shellyplus1-a", channel=0)
    [query] = relay.power_on_query()
    request = json.loads(query.payload)
    assert (query.topic, request["method"], request["params"]) == (
        "shellyplus1-a/rpc", "Switch.GetConfig", {"id": 0})
    reply = {"id": request["id"], "src": "shellyplus1-a", "dst": relay.src,
             "result": {"id": 0, "name": None, "initial_state": "restore_last",
                        "auto_on": False, "auto_off": False}}
    report = relay.parse(relay.reply_topic, json.dumps(reply).encode())
    assert report is not None and report.power_on is PowerOn.LAST and report.energised is None
    foreign = dict(reply, id="someone-else-1")
    assert relay.parse(relay.reply_topic, json.dumps(foreign).encode()) is None
    other = dict(reply, result=dict(reply["result"], id=1))  # another switch of the device
    assert relay.parse(relay.reply_topic, json.dumps(other).encode()) is None
    assert 'Switch.SetConfig {"id": 0, "config": {"initial_state": "on"}}' in \
        relay.power_on_fix(PowerOn.ON)


def test_firmwares_that_cannot_be_asked_say_what_to_set() -> None:
    shelly, esphome = Shelly("shelly1-b", channel=0), EspHome("node", "relay")
    assert shelly.power_on_query() == [] and esphome.power_on_query() == []
    assert "default_state=off" in shelly.power_on_fix(PowerOn.OFF)
    assert "restore_mode: ALWAYS_ON" in esphome.power_on_fix(PowerOn.ON)
