from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gasstove.adapters.config_file import TEXT_KEYS, load_config, parse_config
from gasstove.domain.config import Config
from gasstove.domain.errors import ConfigError
from gasstove.domain.plan import Wiring

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "00112233445566778899aabbccddeeff"

GOOD = f"""\
stove:
  name: kitchen
  burners:
    left:
      aliases: [左边, left burner]
      relay:
        type: miio
        host: 192.168.1.50
        token: {TOKEN}
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "gasstove.yaml")
    message = str(err.value)
    assert "\n" not in message
    return message


def test_the_example_configuration_is_complete_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GASSTOVE_LEFT_TOKEN", TOKEN)
    monkeypatch.setenv("GASSTOVE_RIGHT_TOKEN", TOKEN.upper())
    config = load_config(ROOT / "config.example.yaml")
    left, right = config.stove.burners["left"], config.stove.burners["right"]
    assert left.relay.protocol == "miot" and right.relay.protocol == "legacy"
    assert left.wiring is Wiring.NORMALLY_CLOSED and right.wiring is Wiring.NORMALLY_OPEN
    assert "左边" in left.aliases


def test_defaults_are_the_documented_ones() -> None:
    burner = parse_config(GOOD).stove.burners["left"]
    assert burner.cut_seconds == 3 and burner.wiring is Wiring.NORMALLY_CLOSED
    assert (burner.relay.siid, burner.relay.piid) == (2, 1)
    assert parse_config(GOOD).stove.deadline == 5


def test_a_burner_is_shown_by_its_first_alias_else_by_its_key() -> None:
    right_back = f"    right_back:\n      relay: {{type: miio, host: 192.168.1.51, token: {TOKEN}}}\n"
    stove = parse_config(GOOD.replace("    left:", right_back + "    left:")).stove
    assert stove.display_name("left") == "左边"  # as typed, in any language
    assert stove.display_name("right_back") == "Right back"  # no aliases: its key, readable


def test_a_bad_token_names_file_line_and_key_but_not_the_token() -> None:
    message = error_of(GOOD.replace(TOKEN, "deadbeef-secret"))
    assert message == "gasstove.yaml:9 stove.burners.left.relay.token: must be 32 hex characters"


def test_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEFT_TOKEN", TOKEN)
    config = parse_config(GOOD.replace(TOKEN, "${LEFT_TOKEN}"))
    assert config.stove.burners["left"].relay.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(config)


def test_a_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    message = error_of(GOOD.replace(TOKEN, "${NOPE_TOKEN}"))
    assert message == (
        "gasstove.yaml:9 stove.burners.left.relay.token: environment variable NOPE_TOKEN is not set"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("      relay:", "      wirng: normally_open\n      relay:"),
         "gasstove.yaml:6 stove.burners.left.wirng: unknown key (did you mean 'wiring'?)"),
        (("        host:", "        tokn: x\n        host:"),
         "gasstove.yaml:8 stove.burners.left.relay.tokn: unknown key (did you mean 'token'?)"),
        (("      relay:", "      wiring: sideways\n      relay:"),
         "gasstove.yaml:6 stove.burners.left.wiring: Input should be 'normally_closed' or "
         "'normally_open'"),
        (("      relay:", "      cut_seconds: 0.2s\n      relay:"),
         "gasstove.yaml:6 stove.burners.left.cut_seconds: duration too short: '0.2s' (at least 1s)"),
        (("      relay:", "      cut_seconds: 500\n      relay:"),
         "gasstove.yaml:6 stove.burners.left.cut_seconds: must be between 1 and 60 seconds"),
        (("type: miio", "type: zwave"),
         "gasstove.yaml:7 stove.burners.left.relay.type: must be one of: 'miio'"),
        (("        host: 192.168.1.50\n", ""),
         "gasstove.yaml:6 stove.burners.left.relay.host: missing"),
        (("    left:", "    Left Burner:"),
         "gasstove.yaml:4 stove.burners.Left Burner: burner name 'Left Burner'"),
        (("  name: kitchen\n", "  name: kitchen\n  name: again\n"),
         "gasstove.yaml:3 stove.name: duplicate key"),
        (("[左边, left burner]", "[all]"),
         "gasstove.yaml:5 stove.burners.left.aliases: 'all' means every burner"),
        (("stove:", "stove: [\n"), "gasstove.yaml:"),
    ],
)
def test_errors_name_file_line_and_key(change: tuple[str, str], expected: str) -> None:
    assert error_of(GOOD.replace(*change)).startswith(expected)


def test_a_home_assistant_switch_relay_is_refused_outside_home_assistant() -> None:
    text = GOOD.replace("type: miio", "type: hass\n        entity_id: switch.stove_left")
    text = text.replace("        host: 192.168.1.50\n", "").replace(f"        token: {TOKEN}\n", "")
    message = error_of(text)
    assert message.startswith("gasstove.yaml:")
    assert message.endswith("stove: burner 'left': relay type 'hass' works only inside Home "
                            "Assistant (use a miio or mqtt relay here)")


def test_a_word_may_not_name_two_burners() -> None:
    right = GOOD.split("    left:\n")[1].replace("192.168.1.50", "192.168.1.51")
    text = GOOD + "    right:\n" + right.replace("[左边, left burner]", "[左边]")
    assert "'左边' names both 'left' and 'right'" in error_of(text)


def test_two_burners_may_not_share_one_relay() -> None:
    right = GOOD.split("    left:\n")[1].replace("[左边, left burner]", "[]")
    assert "use the same relay miio 192.168.1.50" in error_of(GOOD + "    right:\n" + right)


def test_an_empty_or_missing_file_is_explained(tmp_path: Path) -> None:
    assert "is empty" in error_of("")
    with pytest.raises(ConfigError, match="no configuration file"):
        load_config(tmp_path / "missing.yaml")


@settings(max_examples=150)
@given(st.text(max_size=200))
@example("stove: !0\n")  # tags PyYAML cannot construct once escaped as a traceback
@example("stove:\n  name: !!int abc\n")
def test_any_text_is_a_config_or_one_line_config_error(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as err:
        assert "\n" not in str(err)
        assert str(err).startswith("fuzz.yaml")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        # YAML reads these as numbers; the user meant the digits they typed
        ("0011223344", "must be 32 hex characters"),
        ("1234", "must be 32 hex characters"),
        ("1.5e3", "must be 32 hex characters"),
        ("true", "must be 32 hex characters"),
    ],
)
def test_a_token_yaml_reads_as_a_number_is_judged_as_typed(token: str, expected: str) -> None:
    message = error_of(GOOD.replace(TOKEN, token))
    assert message == f"gasstove.yaml:9 stove.burners.left.relay.token: {expected}"
    assert token not in message


def test_a_token_of_32_decimal_digits_is_a_token_not_a_number() -> None:
    digits = "12345678901234567890123456789012"
    config = parse_config(GOOD.replace(TOKEN, digits))
    assert config.stove.burners["left"].relay.token.get_secret_value() == digits


@pytest.mark.parametrize(
    "host",
    ["192.168.1.300", "192.168.1", "10.1", "1.2.3.4.5", "192.168.001.1", "0x7f.0.0.1",
     "300", "fe80::1::2", "-router", "router-.lan", "a..b", "host_name"],
)
def test_an_invalid_address_literal_or_host_name_is_a_config_error(host: str) -> None:
    for text in (GOOD.replace("192.168.1.50", host),
                 GOOD + f"mqtt:\n  host: {host}\n"):
        message = error_of(text)
        key = "stove.burners.left.relay.host" if "mqtt" not in text else "mqtt.host"
        line = 8 if "mqtt" not in text else 11
        assert message.startswith(f"gasstove.yaml:{line} {key}: "), message
        assert host in message  # a host name is no secret: say which


@pytest.mark.parametrize("host", ["192.168.1.50", "stove-relay.lan", "fe80::1", "::1", "localhost",
                                  "Relay1.example.com", "127.0.0.5"])
def test_valid_addresses_and_host_names_pass(host: str) -> None:
    assert parse_config(GOOD.replace("192.168.1.50", host)).stove.burners["left"].relay.host == host


_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: k not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
    and k not in TEXT_KEYS)  # (their numbers are kept as typed, unlike PyYAML's)
_SCALARS = (st.integers(-10**6, 10**6) | st.booleans() | st.none()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="$"),
                      max_size=12)
            | st.sampled_from(["0755", "0x1f", "1_000", "1:30", "yes", "Off", "~", "2026-12-01",
                               "1e3", ".inf", "-.5", "3s", "a: b", "#x", "- x"]))
_DOCUMENTS = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_DOCUMENTS, st.sampled_from([None, True, False]))
def test_the_config_reader_reads_yaml_as_pyyaml_does(document: object, flow: bool | None) -> None:
    """The one-pass reader (libyaml's events to Python values, issue 17 item 4) gives what
    PyYAML's own loader gives, for any document without ${NAME} and with text keys (other
    than the secrets and hosts, whose numbers it keeps as typed)."""
    import yaml

    from gasstove.adapters.config_file import _load

    text = yaml.safe_dump({"stove": document}, default_flow_style=flow, allow_unicode=True)
    assert _load(text, "x.yaml", {}, None) == yaml.safe_load(text)


def test_the_config_reader_expands_aliases_as_pyyaml_does() -> None:
    import yaml

    from gasstove.adapters.config_file import _load

    text = ("a: &m {k: 1, l: [&w x, &s 0755]}\nb: *m\nc: [*s, *m]\n"
            "*w : key from an alias\nd: &n !!str 12\ne: *n\n")
    assert _load(text, "x.yaml", {}, None) == yaml.safe_load(text)



def _read_traced(count: int) -> tuple[Config, int, int]:
    """A file of ``count`` Tasmota burners read with the models already built: the
    configuration, what it keeps and the reading's peak (bytes, tracemalloc)."""
    import tracemalloc

    burners = "".join(f"    b{i}:\n      relay: {{type: mqtt, dialect: tasmota, topic: s-{i}}}\n"
                      for i in range(count))
    text = f"stove:\n  burners:\n{burners}mqtt: {{host: 127.0.0.1}}\n"
    parse_config(text.replace(burners, burners[:burners.index("    b1:")]))  # models built
    tracemalloc.start()
    try:
        config = parse_config(text)
        live, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(config.stove.burners) == count
    return config, live, peak


def test_a_large_file_is_read_without_a_copy_of_each_repeated_word() -> None:
    """Issue 17 item 4 (the daemon's memory at 10,000 relays): reading a file holds its
    data next to the models until they are built; libyaml gives every key and value a
    string of its own, and each burner repeats "relay", "type", "mqtt"... The peak of
    reading 2,000 MQTT burners was 2,754 bytes a burner (1,992 of them the models kept);
    with each distinct text held once it is 2,428 (1,996 with the sets below shared)."""
    count = 2000
    config, live, peak = _read_traced(count)
    assert peak / count < 2_550, (peak / count, live / count)
    assert config.stove.burners["b1"].relay.dialect is config.stove.burners["b2"].relay.dialect


def test_ten_thousand_burners_models_keep_no_set_of_their_own() -> None:
    """Issue 17 item 4: what the daemon keeps of a large file. pydantic gives every
    model a set of the field names it was given (216 bytes; two per MQTT burner): the
    models given the same names share one. Live, 2,000 MQTT burners kept 1,936 bytes
    each with a set per model, 1,504 with them shared; a copy that changes a field
    does not change the others' names."""
    count = 2000
    config, live, _ = _read_traced(count)
    assert live / count < 1_650, live / count
    left, right = config.stove.burners["b1"], config.stove.burners["b2"]
    changed = left.model_copy(update={"cut_seconds": 5.0})
    assert changed.model_fields_set == {"relay", "cut_seconds"}
    assert left.model_fields_set == right.model_fields_set == {"relay"}
    assert right.relay.model_fields_set == {"type", "dialect", "topic"}
