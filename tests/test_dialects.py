"""MQTT dialects as pure code: topics, payloads, device-side pulses, parsing of hostile input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gasstove.adapters.config_file import parse_config
from gasstove.domain.dialects import (
    REGISTRY,
    CannotHold,
    Dialect,
    Message,
    ParseError,
    Report,
)
from gasstove.domain.dialects.tasmota import pulse_seconds, pulse_time
from gasstove.domain.errors import ConfigError
from gasstove.domain.mqtt_config import MqttRelayConfig
from gasstove.domain.plan import DevicePulse, Wiring, plan_cut

BLOCKS: dict[str, dict[str, Any]] = {
    "tasmota": {"dialect": "tasmota", "topic": "kitchen", "channel": 1},
    "shelly": {"dialect": "shelly", "topic": "shelly1-A1B2C3"},
    "shelly_rpc": {"dialect": "shelly_rpc", "topic": "shellyplus1-a1b2c3"},
    "zigbee2mqtt": {"dialect": "zigbee2mqtt", "topic": "stove relay"},
    "esphome": {"dialect": "esphome", "topic": "stove-node"},
    "generic": {"dialect": "generic", "command_topic": "gas/relay/set",
                "state_topic": "gas/relay/state", "availability_topic": "gas/relay/online",
                "state_json_path": "relay.state", "get_topic": "gas/relay/get"},
}


def dialect(name: str, **extra: Any) -> Dialect:
    config = MqttRelayConfig.model_validate({"type": "mqtt", **BLOCKS[name], **extra})
    return config.dialect_impl()


def payloads(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.topic, m.payload) for m in messages]


def parse(d: Dialect, topic: str, payload: str | bytes) -> Report | None:
    return d.parse(topic, payload.encode() if isinstance(payload, str) else payload)


# -- every dialect -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_sets_are_idempotent_never_toggles(name: str) -> None:
    d = dialect(name)
    for energised in (True, False):
        sent = d.switch(energised)
        assert sent and all("toggle" not in m.payload.casefold() for m in sent)
        assert sent == d.switch(energised) or name == "shelly_rpc"  # rpc ids differ


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_subscriptions_are_exact_topics_and_exclude_our_commands(name: str) -> None:
    d = dialect(name)
    subs = d.subscriptions()
    assert subs and not any(c in t for t in subs for c in "+#")
    commands = {m.topic for e in (True, False) for m in d.switch(e)} | {m.topic for m in d.poll()}
    assert not commands & set(subs)  # our own publishes can never be read back as state


HOSTILE: list[bytes] = [
    b"", b"{", b"not json", b'{"POWER1": 5}', b"[1, 2, 3]", b"null", b"\xff\xfe\x00",
    b"x" * 1_000_000, b"[" * 50_000, b"[" * 10_000, b'{"a":' * 3000,
    b'{"state": ["ON"]}', b'{"params": {"switch:0": 7}}',
    b'{"method": "NotifyStatus", "params": {"switch:0": {"output": "yes"}}}',
    b'{"id": "sw0-1", "result": {"id": 0, "output": "ON"}}', b'{"relay": {"state": 1}}',
    b"ONLINE?", b'{"state": 1}', "ＯＮ".encode(),
]


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_payloads_are_parse_errors_or_ignored(name: str, payload: bytes) -> None:
    d = dialect(name)
    for topic in d.subscriptions():
        try:
            report = d.parse(topic, payload)
        except ParseError:
            continue
        assert report is None or isinstance(report, Report)
        if report is not None and report.energised is not None:
            assert isinstance(report.energised, bool)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(BLOCKS)), data=st.data())
def test_nothing_but_parse_error_escapes(name: str, data: st.DataObject) -> None:
    d = dialect(name)
    topic = data.draw(st.sampled_from(d.subscriptions()))
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["POWER1", "state", "output", "id", "result",
                                           "params", "switch:0", "relay", "method"]), inner,
                          max_size=3),
        max_leaves=10,
    )
    payload = data.draw(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
    with contextlib.suppress(ParseError):  # anything else escaping fails the test
        d.parse(topic, payload)


# -- Tasmota -------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "value"), [
    (0.05, 1), (1, 10), (3, 30), (11.1, 111), (11.15, 112), (12, 112), (15.5, 116), (60, 160),
])
def test_tasmota_pulse_time_tenths_then_seconds_plus_100(seconds: float, value: int) -> None:
    assert pulse_time(seconds) == value
    assert pulse_seconds(value) >= seconds - 1e-9  # a device-timed cut never ends early


def test_tasmota_commands_and_device_pulses() -> None:
    d = dialect("tasmota")
    assert d.device_pulse() == DevicePulse(on=True, off=True)
    # An ON carries its PulseTime (0 for a hold: a PulseTime left by an earlier cut would
    # end a lock by itself) in one Backlog0 message, run without SetOption34's pause.
    assert payloads(d.switch(True)) == [("cmnd/kitchen/Backlog0", "PulseTime1 0; POWER1 ON")]
    assert payloads(d.switch(True, 3)) == [("cmnd/kitchen/Backlog0", "PulseTime1 30; POWER1 ON")]
    # An OFF first clears a Backlog an earlier OFF pulse left queued (its POWER ON).
    clear = ("cmnd/kitchen/Backlog", "")
    assert payloads(d.switch(False)) == [clear, ("cmnd/kitchen/POWER1", "OFF")]
    assert payloads(d.switch(False, 3)) == [
        clear, ("cmnd/kitchen/Backlog", "POWER1 OFF; Delay 30; POWER1 ON")]
    assert payloads(d.poll()) == [("cmnd/kitchen/POWER1", "")]
    # normally_closed: never an OFF pulse, so nothing to clear before an OFF.
    nc = d.without_off_pulses()
    assert payloads(nc.switch(False)) == [("cmnd/kitchen/POWER1", "OFF")]
    assert payloads(nc.switch(True, 3)) == payloads(d.switch(True, 3))


def test_tasmota_without_device_timer_leaves_pulse_time_alone() -> None:
    d = dialect("tasmota", device_timer=False)
    assert d.device_pulse() == DevicePulse()
    assert payloads(d.switch(True)) == [("cmnd/kitchen/POWER1", "ON")]
    with pytest.raises(ValueError, match="cannot time"):
        d.switch(True, 3)


def test_tasmota_parsing() -> None:
    d = dialect("tasmota")
    assert parse(d, "stat/kitchen/POWER1", "ON") == Report(energised=True)
    # One relay and SetOption26 off: the device says POWER, not POWER1.
    assert parse(d, "stat/kitchen/POWER", "OFF") == Report(energised=False)
    assert parse(d, "stat/kitchen/RESULT", '{"POWER1":"ON"}') == Report(energised=True)
    assert parse(d, "stat/kitchen/RESULT", '{"PulseTime1":{"Set":30}}') is None
    assert parse(d, "tele/kitchen/STATE", '{"Uptime":"0T01","POWER":"OFF"}') == Report(
        energised=False, periodic=True)  # read, but never the answer to a command
    assert parse(d, "tele/kitchen/LWT", "Offline") == Report(online=False)
    with pytest.raises(ParseError):
        parse(d, "stat/kitchen/RESULT", '{"POWER1": true}')
    two = dialect("tasmota", channel=2)
    assert parse(two, "stat/kitchen/RESULT", '{"POWER1":"ON"}') is None
    assert "stat/kitchen/POWER" not in two.subscriptions()
    single = dialect("tasmota", channel=None)
    assert payloads(single.switch(False))[-1] == ("cmnd/kitchen/POWER", "OFF")
    assert parse(d, "stat/kitchen/RESULT", '{"Backlog":"Aborted"}') is None  # our clear


def test_tasmota_asks_its_loop_sleep_and_reads_the_active_value() -> None:
    """CmndSleep answers {"Sleep":{"<setting>":{"Active":"<in force>"}}} (Tasmota 9+),
    "<setting> (Active <in force>)" before: the value in force is what a command waits
    for (a driver may override the setting). Issue 17."""
    d = dialect("tasmota")
    assert payloads(d.loop_sleep_query()) == [("cmnd/kitchen/Sleep", "")]  # only reports
    assert parse(d, "stat/kitchen/RESULT", '{"Sleep":{"50":{"Active":"10"}}}') == Report(
        loop_sleep_ms=10)
    assert parse(d, "stat/kitchen/RESULT", '{"Sleep":"0 (Active 0)"}') == Report(
        loop_sleep_ms=0)
    for bad in ('{"Active":"251"}', '{"50":{"Active":50}}', '{"50":{"Active":"-1"}}',
                '{"1":{"Active":"1"},"2":{"Active":"2"}}', '"50 (Active ５0)"', '50', 'null'):
        with pytest.raises(ParseError):
            parse(d, "stat/kitchen/RESULT", f'{{"Sleep":{bad}}}')
    assert "send `Sleep 0` to cmnd/kitchen/Sleep once" in d.loop_sleep_advice(50)
    assert "up to 50 ms" in d.loop_sleep_advice(50)
    assert "does not sleep" in d.loop_sleep_advice(0)
    assert all(dialect(name).loop_sleep_query() == [] for name in BLOCKS if name != "tasmota")


# -- Shelly Gen1, ESPHome, generic: timers declared by the configuration -----------------


@pytest.mark.parametrize("name", ["shelly", "esphome", "generic"])
def test_declared_timer_pulses_and_refuses_to_hold(name: str) -> None:
    plain = dialect(name)
    assert plain.device_pulse() == DevicePulse()
    with pytest.raises(ValueError, match="cannot time"):
        plain.switch(True, 3)
    timed = dialect(name, auto_off=True)
    assert timed.device_pulse() == DevicePulse(on=True)
    assert timed.switch(True, 3) == plain.switch(True)  # the device's own setting ends it
    assert timed.switch(False) == plain.switch(False)
    with pytest.raises(CannotHold, match="auto_off is set on the device"):
        timed.switch(True)  # a lock would silently end
    assert plan_cut(Wiring.NORMALLY_CLOSED, 3, timed.device_pulse()).device_timed
    assert not plan_cut(Wiring.NORMALLY_OPEN, 3, timed.device_pulse()).device_timed
    with pytest.raises(CannotHold, match="auto_on"):
        dialect(name, auto_on=True).switch(False)


def test_shelly_gen1() -> None:
    d = dialect("shelly", channel=1)
    assert payloads(d.switch(True)) == [("shellies/shelly1-A1B2C3/relay/1/command", "on")]
    assert payloads(d.poll()) == [("shellies/shelly1-A1B2C3/command", "update")]
    assert parse(d, "shellies/shelly1-A1B2C3/relay/1", "off") == Report(energised=False)
    assert parse(d, "shellies/shelly1-A1B2C3/relay/1", "overpower") == Report(energised=False)
    assert parse(d, "shellies/shelly1-A1B2C3/online", "false") == Report(online=False)


def test_esphome() -> None:
    d = dialect("esphome", switch="gas_relay")
    assert payloads(d.switch(False)) == [("stove-node/switch/gas_relay/command", "OFF")]
    assert d.poll() == []  # no state request: its retained state serves
    assert parse(d, "stove-node/switch/gas_relay/state", "ON") == Report(energised=True)
    assert parse(d, "stove-node/status", "offline") == Report(online=False)


def test_generic() -> None:
    d = dialect("generic", payload_on="1", payload_off="0", state_on="closed", state_off="open")
    assert payloads(d.switch(True)) == [("gas/relay/set", "1")]
    assert payloads(d.poll()) == [("gas/relay/get", "")]
    assert parse(d, "gas/relay/state", '{"relay": {"state": "closed"}}') == Report(energised=True)
    assert parse(d, "gas/relay/state", '{"relay": {"state": false}}') == Report(energised=False)
    assert parse(d, "gas/relay/state", '{"other": 1}') is None
    assert parse(d, "gas/relay/online", "offline") == Report(online=False)
    raw = dialect("generic", state_json_path=None)
    assert parse(raw, "gas/relay/state", "OFF") == Report(energised=False)


# -- Shelly Gen2 RPC -------------------------------------------------------------------


def test_shelly_rpc_requests() -> None:
    d = dialect("shelly_rpc")
    (msg,) = d.switch(False, 2.5)
    body = json.loads(msg.payload)
    assert msg.topic == "shellyplus1-a1b2c3/rpc"
    assert body["method"] == "Switch.Set" and body["src"] == "gasstove-shellyplus1-a1b2c3"
    assert body["params"] == {"id": 0, "on": False, "toggle_after": 2.5}
    assert json.loads(d.poll()[0].payload)["method"] == "Switch.GetStatus"
    assert d.device_pulse() == DevicePulse(on=True, off=True)
    assert "gasstove-shellyplus1-a1b2c3/rpc" in d.subscriptions()


def test_shelly_rpc_replies_and_notifications() -> None:
    d = dialect("shelly_rpc")
    reply = "gasstove-shellyplus1-a1b2c3/rpc"
    ours = json.loads(d.poll()[0].payload)["id"].rsplit("-", 1)[0]  # sw0-<nonce>
    # Switch.Set's was_on is the state *before*: it confirms nothing.
    assert parse(d, reply, f'{{"id":"{ours}-1","result":{{"was_on":false}}}}') is None
    assert parse(d, reply, f'{{"id":"{ours}-2","result":{{"id":0,"output":true}}}}') == Report(
        energised=True, answers=2)
    # Another relay's, another process's (same reply topic, its own nonce), an old run's.
    assert parse(d, reply, '{"id":"sw1-2","result":{"id":1,"output":true}}') is None
    assert parse(d, reply, '{"id":"sw0-beefcafe-2","result":{"id":0,"output":true}}') is None
    assert parse(d, reply, '{"id":"sw0-2","result":{"id":0,"output":true}}') is None
    assert parse(d, reply, f'{{"id":"{ours}-3","error":{{"code":-103,"message":"bad"}}}}') == \
        Report(refused="error -103: bad", answers=3)
    events = "shellyplus1-a1b2c3/events/rpc"
    note = {"method": "NotifyStatus", "params": {"ts": 1.0, "switch:0": {"output": False}}}
    assert parse(d, events, json.dumps(note)) == Report(energised=False)
    note["params"] = {"switch:0": {"apower": 3.2}}
    assert parse(d, events, json.dumps(note)) is None
    assert parse(d, events, '{"method":"NotifyEvent","params":{}}') is None
    assert parse(d, "shellyplus1-a1b2c3/status/switch:0", '{"id":0,"output":true}') == Report(
        energised=True)
    assert parse(d, "shellyplus1-a1b2c3/online", "true") == Report(online=True)


# -- Zigbee2MQTT ----------------------------------------------------------------------


def test_zigbee2mqtt() -> None:
    d = dialect("zigbee2mqtt", endpoint="l2")
    assert d.optimistic_echo
    assert payloads(d.switch(True, 3)) == [
        ("zigbee2mqtt/stove relay/set", '{"state_l2": "ON", "on_time": 3.0}')]
    assert payloads(d.poll()) == [("zigbee2mqtt/stove relay/get", '{"state_l2": ""}')]
    assert d.device_pulse() == DevicePulse(on=True)  # on_time only turns OFF again
    with pytest.raises(ValueError, match="cannot time an OFF pulse"):
        d.switch(False, 3)
    topic = "zigbee2mqtt/stove relay"
    assert parse(d, topic, '{"state_l2":"OFF","linkquality":80}') == Report(energised=False)
    assert parse(d, topic, '{"state_l1":"ON"}') is None
    assert parse(d, f"{topic}/availability", '{"state":"offline"}') == Report(online=False)
    assert parse(d, f"{topic}/availability", "online") == Report(online=True)  # legacy payload
    bridge = "zigbee2mqtt/bridge/state"
    assert bridge in d.subscriptions() and d.bridge() == bridge
    assert parse(d, bridge, '{"state":"offline"}') == Report(bridge_online=False)
    assert parse(d, bridge, "online") == Report(bridge_online=True)  # before Z2M 2.0
    assert parse(d, bridge, "") is None  # a retained state cleared


# -- configuration ---------------------------------------------------------------------

BROKER = "mqtt:\n  host: 192.168.1.2\n  username: stove\n  password: s3cret-pw\n"


def config_text(relay: str, broker: str = BROKER) -> str:
    return f"stove:\n  burners:\n    front:\n      relay:\n{relay}{broker}"


def test_config_mqtt_relay_and_broker(tmp_path: Path) -> None:
    relay = "        type: mqtt\n        dialect: shelly_rpc\n        topic: shellyplus1-a\n"
    config = parse_config(config_text(relay))
    assert config.mqtt is not None and config.mqtt.effective_port == 1883
    assert config.stove.burners["front"].plan().device_timed
    assert "s3cret" not in repr(config) and "s3cret" not in config.mqtt.describe()
    (ca := tmp_path / "ca.pem").write_text("")  # the file must exist (checked at load)
    tls = parse_config(config_text(relay, f"mqtt:\n  host: b\n  ca_file: {ca}\n"))
    assert tls.mqtt is not None and tls.mqtt.use_tls and tls.mqtt.effective_port == 8883


@pytest.mark.parametrize(("relay", "broker", "error"), [
    ("        type: mqtt\n        dialect: tasmota\n        topic: k\n", "",
     r"g.yaml:1 mqtt: missing: burner 'front' has an MQTT relay"),
    ("        type: mqtt\n        dialect: tasmota\n        topic: k\n        switch: r\n", BROKER,
     r"g.yaml:4 stove.burners.front.relay: switch: not used by dialect tasmota"),
    ("        type: mqtt\n        dialect: esphome\n", BROKER,
     r"relay: topic: missing \(dialect esphome needs it\)"),
    ("        type: mqtt\n        dialect: tasmota\n        topic: k/#\n", BROKER,
     r"g.yaml:7 stove.burners.front.relay.topic: must be one exact topic"),
    ("        type: mqtt\n        dialect: generic\n        command_topic: a\n"
     "        state_topic: a\n", BROKER, r"state_topic: must differ from command_topic"),
    ("        type: mqtt\n        dialect: sonoff\n        topic: k\n", BROKER,
     r"relay.dialect: Input should be 'tasmota'"),
    ("        type: mqtt\n        dialect: tasmota\n        topic: k\n",
     "mqtt:\n  host: b\n  password: s3cret-pw\n", r"mqtt: password: needs a username too"),
])
def test_config_errors_name_the_key(relay: str, broker: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error) as caught:
        parse_config(config_text(relay, broker), "g.yaml")
    assert "s3cret" not in str(caught.value)


def test_every_dialect_is_registered_with_a_unique_description() -> None:
    assert set(REGISTRY) == set(BLOCKS)
    described = {dialect(name).describe() for name in BLOCKS}
    assert len(described) == len(BLOCKS)
