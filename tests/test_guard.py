"""The stove guard's pure brain (gasstove.domain.guard): what is due, announced, snoozed,
and what stale (retained) or hostile input may not do."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gasstove.adapters.config_file import parse_config
from gasstove.domain.dialects import ParseError
from gasstove.domain.errors import ConfigError
from gasstove.domain.flame import FlameInput
from gasstove.domain.guard import (
    Guard,
    GuardConfig,
    HazardInput,
    Look,
    SnoozeRefused,
    warning_text,
)

RELAY = "relay: {type: mqtt, dialect: tasmota, topic: r}"


def guard(max_burn: float | None = 7200, **config: object) -> Guard:
    cfg = GuardConfig.model_validate({"presence": {"topic": "k/motion"}, **config})
    return Guard.new(cfg, {"left": (max_burn, True), "right": (None, False)}, now=0.0)


def test_a_lit_burner_with_nobody_present_is_warned_then_cut_after_away_after() -> None:
    g = guard()
    g.flame("left", True, 100)  # lighting it takes a hand on the knob: someone was there
    assert g.pending("left").reason == "inactivity"  # type: ignore[union-attr]
    assert g.pending("left").at == 700  # type: ignore[union-attr]
    assert g.look("left", 639) == Look(g.pending("left"), warn=False, due=False, wake=640)
    warned = g.look("left", 640)
    assert warned.warn and not warned.due and warned.wake == 700
    assert warned.pending.seconds_left(640) == 60  # type: ignore[union-attr]
    assert warning_text(warned.pending, 60, "Left burner") == (  # type: ignore[arg-type]
        "Left burner shuts off in 1m: nobody in the kitchen for 10m")
    assert not g.look("left", 699.9).due and g.look("left", 700).due
    assert g.look("left", 700).wake is None
    assert g.pending("right") is None, "no flame input: the guard cannot know it is lit"


def test_presence_holds_the_cut_off_and_leaving_starts_the_count_again() -> None:
    g = guard()
    g.flame("left", True, 0)
    g.presence(True, 500, retained=False)
    assert g.pending("left").reason == "max_burn"  # type: ignore[union-attr]
    g.presence(False, 3000, retained=False)
    assert g.pending("left").at == 3600  # type: ignore[union-attr]


def test_a_retained_present_is_not_someone_in_the_kitchen() -> None:
    """A retained "present" is of unknown age (the sensor may have died a day ago)."""
    g = guard()
    g.flame("left", True, 0)
    assert g.presence(True, 1, retained=True) is False
    assert g.pending("left").at == 600  # type: ignore[union-attr]


def test_snooze_pushes_the_cut_back_but_never_past_the_maximum_burn() -> None:
    g = guard()
    g.flame("left", True, 0)
    until, note = g.snooze("left", 300, 650)
    assert (until, note) == (950, "") and g.pending("left").at == 950  # type: ignore[union-attr]
    assert not g.look("left", 651).warn, "the standing warning is withdrawn"
    until, note = g.snooze("left", 24 * 3600, 7000)
    assert until == 7200 and "maximum burn time (2h) is the limit" in note
    with pytest.raises(SnoozeRefused, match="cannot be pushed back"):
        g.snooze("left", 300, 7199.5)
    assert g.snooze("left", 60, 100)[0] == 7200, "a shorter snooze does not shorten one given"


def test_max_burn_is_warned_and_due_and_a_failed_cut_is_tried_again() -> None:
    g = guard(presence=None)
    g.flame("left", True, 0)
    assert g.look("left", 7140).warn and g.look("left", 7200).due
    assert g.look("left", 7200).pending.reason == "max_burn"  # type: ignore[union-attr]
    g.cut_started("left")
    assert not g.look("left", 7201).due, "not twice while the first cut runs"
    g.cut_done("left", confirmed=False, now=7203)
    assert g.pending("left").at == 7263  # type: ignore[union-attr]
    g.cut_done("left", confirmed=True, now=7263)
    assert g.pending("left").at == 7263 + 7200, "counted again, as if lit now"  # type: ignore[union-attr]
    g.flame("left", False, 7300)
    assert g.pending("left") is None


def test_timers_are_warned_of_but_fired_by_the_daemon() -> None:
    g = guard(presence=None)
    g.timer("right", 1200)
    assert g.look("right", 1140).warn and not g.look("right", 1300).due
    # Warned: nothing more to look at (its firing tells the guard; ten thousand timers
    # due at once did cost ten thousand looks at that instant)
    assert g.look("right", 1140).wake is None


def test_warn_before_zero_announces_nothing() -> None:
    g = guard(warn_before=0)
    g.flame("left", True, 0)
    assert not g.look("left", 599.9).warn and g.look("left", 600).due


def test_a_retained_alarm_cuts_a_retained_clear_never_masks_one() -> None:
    g = guard(hazards=[{"topic": "k/smoke", "kind": "smoke"}])
    assert g.hazard(0, True, retained=True) == "alarm", "on at start-up: cut now"
    assert g.hazard(0, True, retained=False) is None, "one alarm, one cut"
    assert g.hazard(0, False, retained=True) is None and g.hazard_active() == [0]
    assert g.hazard(0, False, retained=False) == "clear" and g.hazard_active() == []
    assert g.hazard(0, True, retained=False) == "alarm", "a new alarm cuts again"


def test_guard_config_in_the_file() -> None:
    config = parse_config(f"""\
stove:
  burners:
    left:
      {RELAY}
      flame: {{topic: k/temp, json_path: temperature, lit_above: 80, out_below: 60}}
mqtt: {{host: localhost}}
guard:
  presence: {{topic: k/motion, json_path: occupancy}}
  away_after: 5m
  warn_before: 30s
  hazards:
    - {{topic: k/smoke, json_path: smoke, kind: smoke, availability: k/smoke/availability}}
alerts:
  on_cut: [/usr/local/bin/notify, --quiet]
""")
    assert config.guard.away_after == 300 and config.guard.warn_before == 30
    assert config.alerts.on_cut == ["/usr/local/bin/notify", "--quiet"]
    assert parse_config(f"stove:\n  burners:\n    left:\n      {RELAY}\nmqtt: {{host: h}}\n"
                        ).guard.warn_before == 60


@pytest.mark.parametrize(("guard_yaml", "error"), [
    ("presence: {topic: k/m}\n  away_after: 1m\n  warn_before: 2m",
     "warn_before must be shorter than away_after"),
    ("hazards: [{topic: k/s, kind: fire}]", "guard.hazards.0.kind"),
    ("hazards: [{topic: 'k/#', kind: smoke}]", "guard.hazards.0.topic"),
    ("warn_before: 11m", "guard.warn_before"),
])
def test_bad_guard_config_is_one_line_naming_the_key(guard_yaml: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error) as err:
        parse_config(f"stove:\n  burners:\n    left:\n      {RELAY}\nmqtt: {{host: h}}\n"
                     f"guard:\n  {guard_yaml}\n")
    assert "\n" not in str(err.value)


def test_guard_inputs_need_a_broker() -> None:
    with pytest.raises(ConfigError, match="the guard has MQTT inputs"):
        parse_config("stove:\n  burners:\n    left:\n      relay: {type: miio, host: 127.0.0.1, "
                     "token: '" + "0" * 32 + "'}\nguard:\n  presence: {topic: k/m}\n")


def test_a_stove_top_temperature_is_a_flame_input_with_a_dead_band() -> None:
    flame = FlameInput(topic="t", json_path="temperature", lit_above=80, out_below=60)
    assert flame.parse(b'{"temperature": 95.5}') is True
    assert flame.parse(b'{"temperature": 70}') is None, "in the band: unchanged, no flapping"
    assert flame.parse(b'{"temperature": 59}') is False
    assert FlameInput(topic="t", lit_above=80).parse(b"80") is True
    for bad in (b'{"temperature": "hot"}', b'{"temperature": NaN}'):
        with pytest.raises(ParseError):
            flame.parse(bad)
    with pytest.raises(ValueError, match="out_below must not be above lit_above"):
        FlameInput(topic="t", lit_above=50, out_below=60)


def test_hazard_availability_plain_or_zigbee2mqtt_json() -> None:
    smoke = HazardInput(topic="z/smoke", kind="smoke", json_path="smoke", availability="z/a")
    assert smoke.parse(b'{"smoke": true, "battery": 90}') is True
    assert smoke.parse(b'{"battery": 90}') is None
    assert smoke.parse_availability(b"offline") is False
    assert smoke.parse_availability(b'{"state": "online"}') is True
    with pytest.raises(ParseError):
        smoke.parse_availability(b"maybe")


@settings(max_examples=300, deadline=None)
@given(payload=st.one_of(st.binary(max_size=64), st.text(max_size=40).map(str.encode),
                         st.sampled_from([b'{"state": 1}', b'{"state": null}', b"{", b"[]",
                                          b'{"state": ["online"]}', b"\xff"])))
def test_any_availability_payload_is_online_offline_nothing_or_one_line(payload: bytes) -> None:
    smoke = HazardInput(topic="z/smoke", kind="smoke", availability="z/a")
    try:
        said = smoke.parse_availability(payload)
    except ParseError as err:
        assert "\n" not in str(err)
        return
    assert said is None or isinstance(said, bool)
