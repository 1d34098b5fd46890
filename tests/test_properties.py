"""Property tests for every surface that takes input from outside (issue 14 item 6).

Config files, durations, socket lines, MQTT payloads on every subscribed
topic, miio device replies and voice: whatever arrives, the answer is a value
or a one-line error of the surface's own kind -- never a traceback -- and bad
input never makes a relay act. The profile is deterministic (derandomized, no
example database) so every run tries the same inputs; the examples tried per
surface are printed at the end of the module (``pytest -q`` shows them).

Narrower property tests live beside their code and are not repeated here:
``test_config`` (any text), ``test_durations`` (any text), ``test_dialects``
(binary and small JSON per dialect), ``test_remote`` (binary on one topic),
``test_daemon`` (socket lines through ``handle_line``), ``test_voice`` (any
text; turn-on phrases). This module adds structure those do not reach:
mutated valid configurations and device payloads, every subscribed topic,
real socket and UDP round trips, and sentences built from the grammar's words.

Bugs these properties found are kept as explicit examples (CONFIG_FOUND,
CONFIG_RECURSION, NESTED_LINES) and out of the strategies, so the properties go
on looking for new ones.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gasstove.adapters.config_file import parse_config
from gasstove.adapters.miio_relay import MiioRelay, _hello
from gasstove.domain.clock_time import parse_at
from gasstove.domain.commands import parse_command
from gasstove.domain.config import Config, MiioRelayConfig
from gasstove.domain.dialects import ParseError, Report
from gasstove.domain.durations import MAX_DELAY_S, config_seconds, parse_duration
from gasstove.domain.errors import ConfigError, DurationError, RelayError, UsageError
from gasstove.domain.flame import FlameInput, MqttInput
from gasstove.domain.guard import HazardInput, PresenceInput
from gasstove.domain.voice import VoiceCommand, parse_delay, parse_utterance, sentence_data
from gasstove.domain.voice.say import MAX_UTTERANCE_CHARS, parse_say
from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings, serve_in_thread

from .fixtures_daemon import FakeClock
from .fixtures_miio import TOKEN, SimRelay, burner_yaml, lit_burner
from .test_config import GOOD
from .test_dialects import BLOCKS, dialect
from .test_remote import REMOTE

#: Examples tried per surface (and how many of them were refused), printed at the end.
COUNTS: Counter[str] = Counter()


def profile(examples: int) -> settings:
    """Deterministic and bounded: the whole module runs in well under a minute on a
    loaded 2-core machine."""
    return settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None or not COUNTS:
        return
    with capture.global_and_fixture_disabled():  # shown in the test output without -s
        print("\nproperty examples per surface (0 tracebacks, 0 relay actions):")
        for surface in sorted({key.split(" [")[0] for key in COUNTS}):
            refused = COUNTS[f"{surface} [refused]"]
            print(f"  {surface}: {COUNTS[surface]} examples, {refused} refused")


def one_line(err: BaseException) -> None:
    assert "\n" not in str(err), repr(str(err))
    assert "Traceback" not in str(err)


# -- shared strategies ----------------------------------------------------------------

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**30), 10**30)
    | st.floats() | st.text(max_size=12)
    | st.sampled_from(["", "on", "off", "ON", "OFF", "true", "1", "-1", "NaN", "1e999", "0x10",
                       "online", "offline", "20m", "-5m", "{}", "[]", "null", "\x00", "ＯＮ"])
)


def json_values(keys: list[str], leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON documents whose object keys are mostly the surface's own words."""
    key = st.sampled_from(keys) | st.text(max_size=6)
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4),
        max_leaves=leaves,
    )


def nested(depth: int, kind: str) -> str:
    return {"list": "[" * depth + "]" * depth,
            "dict": '{"a":' * depth + "1" + "}" * depth}[kind]


#: Keys without line breaks: a key with one is a multi-line config error on this branch
#: (CONFIG_FOUND below), and this keeps the property looking for new bugs.
KEYS = st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp")), max_size=8)


def mutate(base: Any, data: st.DataObject, replacement: st.SearchStrategy[Any]) -> Any:
    """``base`` (a JSON-like tree) with one value replaced, one key removed or one added."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(base, ())
    path = data.draw(st.sampled_from(paths), label="path")
    how = data.draw(st.sampled_from(["replace", "remove", "add"]), label="how")
    tree = json.loads(json.dumps(base))
    if not path:
        return data.draw(replacement) if how != "remove" else None
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    if how == "replace":
        parent[path[-1]] = data.draw(replacement, label="value")
    elif how == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(KEYS, label="key")] = data.draw(replacement, label="value")
    else:
        parent.append(data.draw(replacement, label="value"))
    return tree


# -- config files -------------------------------------------------------------------

MQTT_GOOD = yaml.safe_load(
    "mqtt: {host: 127.0.0.1, port: 1883, username: stove, password: pw}\n"
    "stove:\n  burners:\n    right:\n      relay: {type: mqtt, dialect: tasmota, topic: kitchen}\n"
    "      flame: {topic: kitchen/flame, json_path: sensor.lit}\n"
    "guard:\n  presence: {topic: kitchen/motion, json_path: occupancy}\n  away_after: 10m\n"
    "  hazards: [{topic: kitchen/smoke, kind: smoke, availability: kitchen/smoke/lwt}]\n"
    "alerts: {on_cut: [/bin/true]}\n"
)
CONFIG_BASES = [yaml.safe_load(GOOD), MQTT_GOOD]
CONFIG_WORDS = ["stove", "name", "burners", "left", "right", "relay", "type", "miio", "mqtt",
                "host", "token", "wiring", "cut_seconds", "deadline", "aliases", "dialect",
                "topic", "channel", "protocol", "siid", "piid", "countdown", "daemon",
                "database", "port", "password", "tls", "flame", "max_burn", "guard", "presence",
                "hazards", "kind", "away_after", "warn_before", "lit_above", "out_below",
                "availability", "alerts", "on_cut", "<<"]
# YAML that is not plain data: tags, anchors and aliases, merge keys, directives.
YAML_TRICKS = [
    "!!python/object/apply:os.system [echo hi]", "!!binary aGk=", "!!int abc", "!foo bar",
    "&a [1, 2]", "*nowhere", "{<<: *nowhere}", "!!timestamp 2026-13-45", "!!float .nan",
    "'\x00'", "\"\\ud800\"", "? [a, b]\n  : c", "%YAML 1.1\n---\nx", "---\n...\n---",
    "[*a, &a 1]", "!!set {a, b}", "!!omap [a: 1]", "1e999", "0o777", "~", "'" + "a" * 5000 + "'",
]


def yaml_text(data: st.DataObject) -> str:
    base = data.draw(st.sampled_from(CONFIG_BASES), label="base")
    tree = mutate(base, data, json_values(CONFIG_WORDS, leaves=8))
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    if data.draw(st.booleans(), label="trick"):
        # splice a trick in place of one scalar of the dumped text
        lines = text.splitlines() or [""]
        at = data.draw(st.integers(0, len(lines) - 1), label="line")
        trick = data.draw(st.sampled_from(YAML_TRICKS) | st.text(max_size=20), label="trick text")
        head, sep, _ = lines[at].partition(": ")
        lines[at] = f"{head}{sep or ': '}{trick}"
        text = "\n".join(lines) + "\n"
    return text


@profile(300)
@given(data=st.data())
def test_config_files_give_a_config_or_a_one_line_config_error(data: st.DataObject) -> None:
    text = yaml_text(data)
    COUNTS["config files"] += 1
    try:
        config = parse_config(text, "fuzz.yaml")
    except ConfigError as err:
        COUNTS["config files [refused]"] += 1
        one_line(err)
        assert str(err).startswith("fuzz.yaml")
        assert TOKEN not in str(err)
    else:
        assert isinstance(config, Config)


#: Found by the property above on this branch, in config_file.py (issue 14 item 3, another
#: helper's file): each escapes as a RecursionError traceback. Kept out of the property so it
#: keeps looking for new bugs; the marks go once the fix is merged (they then XPASS).
CONFIG_RECURSION = {
    "self-referencing alias": "stove: &a [1, *a]\n",
    "alias in a mapping": "stove:\n  name: &a {x: *a}\n",
    "deep flow list": "stove: " + nested(5000, "list") + "\n",
    "deep flow mapping": "stove: " + nested(5000, "dict").replace('"a":', "a: ") + "\n",
}


#: Found by the property above on this branch, in config_file.py: a key with a line break
#: is quoted raw in the error, which then spans two lines (error paths should use repr()).
CONFIG_FOUND = {
    "burner key with a newline": 'stove:\n  burners:\n    "x\\ny": {relay: {type: miio}}\n',
    "unknown key with a newline": GOOD + '  "\\n": 1\n',
}


@pytest.mark.parametrize("text", CONFIG_FOUND.values(), ids=CONFIG_FOUND.keys())
def test_a_key_with_a_line_break_is_a_one_line_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "keys.yaml")
    one_line(err.value)


@pytest.mark.parametrize("text", CONFIG_RECURSION.values(), ids=CONFIG_RECURSION.keys())
def test_recursive_and_deep_yaml_is_a_one_line_config_error(text: str) -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        parse_config(text, "deep.yaml")
    one_line(err.value)
    assert time.monotonic() - start < 1


# -- durations ----------------------------------------------------------------------

DASHES = ["-", "\u2212", "\u2010", "\u2013", "\ufe63", "\uff0d", "--", "- "]
NUMBERS = (
    st.integers(-(10**6), 10**6).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.sampled_from(["0", "00", "0.0", ".5", "5.", "5.5.5", "1e3", "1E999", "nan", "NaN", "inf",
                       "-inf", "٥", "５", "²", "½", "9" * 400, "1_000", "0x1f", "1,5"])
    | st.builds(lambda d, n: d + n, st.sampled_from(DASHES), st.integers(0, 999).map(str))
)
NEGATIVE = re.compile("\\s*[-\u2212\u2010\u2013\ufe63\uff0d]")
UNITS = st.sampled_from(["h", "m", "s", "H", "M", "S", "min", "mins", "minutes", "hour", "hours",
                         "sec", "seconds", "d", "ms", "", " ", "分钟", "小时", "hrs"])


@st.composite
def duration_texts(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        # ISO 8601 and clock forms with hostile numbers in them
        n = draw(NUMBERS)
        return draw(st.sampled_from([f"PT{n}M", f"P{n}D", f"PT{n}H{n}S", f"-PT{n}S", f"P{n}",
                                     f"{n}:00:00", f"1:{n}:00", f"0:00:{n}", f"{n}:30"]))
    parts = draw(st.lists(st.tuples(NUMBERS, UNITS), min_size=1, max_size=3))
    sep = draw(st.sampled_from(["", " ", " and ", ", ", "\t"]))
    return sep.join(n + u for n, u in parts)


@profile(400)
@given(text=duration_texts())
def test_durations_are_in_range_or_a_one_line_duration_error(text: str) -> None:
    COUNTS["durations (--in, socket, config)"] += 1
    try:
        seconds = parse_duration(text)
    except DurationError as err:
        COUNTS["durations (--in, socket, config) [refused]"] += 1
        one_line(err)
    else:
        assert math.isfinite(seconds) and 1 <= seconds <= MAX_DELAY_S, (text, seconds)
        assert not NEGATIVE.match(text), f"a negative duration: {text!r}"
    try:
        value = config_seconds(text, 1, 30)
    except DurationError as err:
        one_line(err)
    else:
        assert 1 <= value <= 30


@profile(150)
@given(value=json_values(["s"], leaves=4))
def test_config_durations_of_any_yaml_type(value: Any) -> None:
    COUNTS["durations (--in, socket, config)"] += 1
    try:
        seconds = config_seconds(value, 1, 30)
    except DurationError as err:
        COUNTS["durations (--in, socket, config) [refused]"] += 1
        one_line(err)
    else:
        assert math.isfinite(seconds) and 1 <= seconds <= 30, (value, seconds)


@profile(150)
@given(text=st.one_of(duration_texts(), st.text(max_size=30),
                      st.sampled_from(["18:30", "19:00", "17:59", "23:59:59", "2026-11-26T08:00",
                                       "2026-11-25T18:00:01+08:00", "6:30pm", "24:00"]),
                      st.builds("{}:{}".format, NUMBERS, NUMBERS),
                      st.builds("2026-{}-{}T{}:00".format, NUMBERS, NUMBERS, NUMBERS)))
def test_stove_off_at_is_a_time_within_a_day_or_a_one_line_error(text: str) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    COUNTS["durations (--at)"] += 1
    try:
        when = parse_at(text, now)
    except DurationError as err:
        COUNTS["durations (--at) [refused]"] += 1
        one_line(err)
    else:
        assert 0 < (when - now).total_seconds() <= MAX_DELAY_S


# -- socket lines (and MQTT command payloads, which speak the same JSON) ---------------

COMMAND_WORDS = ["action", "burners", "in", "delay_s", "source", "requested_by", "id"]
ACTION_VALUES = ["off", "cancel", "lock", "unlock", "status", "OFF", "on", "restore", ""]
GOOD_COMMANDS = [{"action": "off"}, {"action": "off", "burners": ["left"], "in": "20m"},
                 {"action": "off", "delay_s": 1200}, {"action": "lock", "burners": "left"},
                 {"action": "status", "id": "x1"}, {"action": "cancel", "burners": []}]
ACTING = ("off", "lock", "unlock", "cancel")


@st.composite
def command_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["mutated", "json", "nested", "bytes"]))
    if kind == "mutated":
        base = draw(st.sampled_from(GOOD_COMMANDS))
        value = json_values(COMMAND_WORDS) | st.sampled_from(ACTION_VALUES) | NUMBERS
        tree = mutate(base, draw(st.data()), value)
        return json.dumps(tree).encode()
    if kind == "json":
        return json.dumps(draw(json_values(COMMAND_WORDS + ACTION_VALUES))).encode()
    if kind == "nested":  # as deep as the json module reads (see NESTED_LINES for deeper)
        inner = nested(draw(st.sampled_from([10, 100, 500])), draw(st.sampled_from(["list", "dict"])))
        return draw(st.sampled_from([inner, f'{{"action": "off", "burners": {inner}}}',
                                     f'{{"action": "off", "id": {inner}}}'])).encode()
    return draw(st.binary(max_size=80))


#: Found by the properties here on this branch: JSON nested deeper than the json module
#: reads escapes as a RecursionError -- "internal error in the daemon" on the socket
#: (server.py) and an unhandled error with no result on the MQTT command topics
#: (remote.py / mqtt_remote.py), issue 14 item 4, other helpers' files. Kept out of the
#: properties so they keep looking for new bugs; the marks go once the fixes are merged.
NESTED_LINES = {
    **{f"{kind} {depth}": nested(depth, kind).encode()
       for kind in ("list", "dict") for depth in (1000, 5000)},
    "list 5000 in burners": f'{{"action": "off", "burners": {nested(5000, "list")}}}'.encode(),
}


def harmless(line: bytes) -> bool:
    """Whether ``line`` is refused or only asks for status (an accepted acting command is
    skipped: it is good input, and it would act)."""
    try:
        command = parse_command(json.loads(line), source="socket")
    except (UsageError, ValueError):
        return True
    return command.action not in ACTING


@profile(300)
@given(line=command_lines())
def test_command_parser_gives_a_command_or_a_one_line_usage_error(line: bytes) -> None:
    COUNTS["socket/MQTT command JSON (parser)"] += 1
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        COUNTS["socket/MQTT command JSON (parser) [refused]"] += 1
        return
    try:
        command = parse_command(obj, source="socket")
    except UsageError as err:
        COUNTS["socket/MQTT command JSON (parser) [refused]"] += 1
        one_line(err)
    else:
        if command.delay_s is not None:
            assert 1 <= command.delay_s <= MAX_DELAY_S and command.action == "off"


class SocketDaemon:
    """One real daemon (in-process, on its own event loop thread) with a real Unix socket
    and a simulated miio relay, shared by every example: a line is a connect, a send and
    a one-line JSON answer, as the CLI does it."""

    def __init__(self, tmp: Path, sim: SimRelay) -> None:
        from .test_daemon import running

        self.path = tmp / "stove.sock"
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: list[BaseException] = []

        async def main() -> None:
            from gasstove.daemon.server import start_socket

            self._stop = asyncio.Event()
            async with running(tmp / "g.db", FakeClock(), burner_yaml("left", sim)) as (daemon, _):
                server = await start_socket(daemon, self.path)
                self._ready.set()
                await self._stop.wait()
                server.close()

        def run() -> None:
            try:
                self.loop.run_until_complete(main())
            except BaseException as err:  # shown by the test, not lost in the thread
                self._failure.append(err)
                self._ready.set()

        self.thread = threading.Thread(target=run, name="socket-daemon", daemon=True)
        self.thread.start()
        self._ready.wait(10)
        if self._failure:
            raise self._failure[0]

    def ask(self, line: bytes) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.path))
            sock.sendall(line.replace(b"\n", b" ") + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                assert chunk, f"the daemon closed the socket without an answer to {line[:80]!r}"
                answer += chunk
        assert answer.count(b"\n") == 1
        reply: dict[str, Any] = json.loads(answer)
        return reply

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def socket_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SocketDaemon, SimRelay]]:
    burner = lit_burner("left")
    device = MiioSimDevice(MiioSimSettings(_free_host(), TOKEN), burner)
    with serve_in_thread(device):
        sim = SimRelay(device, burner)
        daemon = SocketDaemon(tmp_path_factory.mktemp("sockd"), sim)
        try:
            yield daemon, sim
        finally:
            daemon.close()


def _free_host() -> str:
    from gasstove.sim.miio_device import free_loopback_host

    return free_loopback_host()


def writes(sim: SimRelay) -> list[dict[str, Any]]:
    """Requests that would change the relay (reads and handshakes are not actions)."""
    return [r for r in sim.device.requests
            if r.get("method") in ("set_properties", "set_power", "set_countdown")]


@profile(150)
@given(line=command_lines())
def test_socket_lines_get_a_one_line_answer_and_never_act(
    socket_daemon: tuple[SocketDaemon, SimRelay], line: bytes,
) -> None:
    daemon, sim = socket_daemon
    assume(harmless(line))
    COUNTS["socket lines (real daemon socket)"] += 1
    reply = daemon.ask(line)
    assert set(reply) <= {"ok", "exit", "error", "burners", "daemon"}, reply  # (daemon: status)
    if "error" in reply:
        COUNTS["socket lines (real daemon socket) [refused]"] += 1
        assert reply["exit"] == 2 and "\n" not in reply["error"], reply
    assert writes(sim) == [] and sim.burner.lit, f"{line[:80]!r} made the relay act"


@pytest.mark.parametrize("line", NESTED_LINES.values(), ids=NESTED_LINES.keys())
def test_deeply_nested_socket_lines_get_a_one_line_usage_error(
    socket_daemon: tuple[SocketDaemon, SimRelay], line: bytes,
) -> None:
    daemon, sim = socket_daemon
    reply = daemon.ask(line)
    assert reply["exit"] == 2 and "\n" not in reply["error"], reply
    assert writes(sim) == [] and sim.burner.lit


# -- MQTT payloads on every subscribed topic --------------------------------------------

#: What each device really publishes on its topics, to mutate (see test_dialects).
DEVICE_PAYLOADS: list[Any] = [
    "ON", "OFF", "Online", "Offline", "online", "offline", "true", "false", "1", "0",
    {"POWER": "ON"}, {"POWER1": "OFF"}, {"StatusSTS": {"POWER1": "ON"}},
    {"state": "ON"}, {"state": "OFF", "linkquality": 80}, {"state": "online"},
    {"id": "gasstove-1", "src": "shellyplus1-a1b2c3", "result": {"was_on": False}},
    {"method": "NotifyStatus", "params": {"ts": 1, "switch:0": {"id": 0, "output": True}}},
    {"id": 0, "source": "init", "output": False}, {"relay": {"state": "ON"}},
    {"sensor": {"lit": True}},
]
MQTT_WORDS = ["POWER", "POWER1", "StatusSTS", "state", "output", "id", "src", "result", "params",
              "switch:0", "relay", "method", "was_on", "error", "sensor", "lit", "online"]


@st.composite
def mqtt_payloads(draw: st.DrawFn, deep: bool = True) -> bytes:
    kind = draw(st.sampled_from(["mutated", "json", "nested", "text", "bytes"]))
    if kind == "mutated":
        base = draw(st.sampled_from(DEVICE_PAYLOADS))
        tree = mutate(base, draw(st.data()), json_values(MQTT_WORDS) | NUMBERS)
        return (tree if isinstance(tree, str) else json.dumps(tree)).encode()
    if kind == "json":
        return json.dumps(draw(json_values(MQTT_WORDS))).encode()
    if kind == "nested":
        depth = draw(st.sampled_from([10, 900, 5000, 50_000] if deep else [10, 100, 500]))
        return nested(depth, draw(st.sampled_from(["list", "dict"]))).encode()
    if kind == "text":
        return draw(st.text(max_size=20)).encode()
    return draw(st.binary(max_size=80))


DIALECTS = {name: dialect(name) for name in sorted(BLOCKS)}
DIALECT_TOPICS = [(name, topic) for name, d in DIALECTS.items() for topic in d.subscriptions()]


@profile(400)
@given(where=st.sampled_from(DIALECT_TOPICS), payload=mqtt_payloads())
def test_relay_reports_on_every_subscribed_topic_parse_or_give_a_parse_error(
    where: tuple[str, str], payload: bytes,
) -> None:
    name, topic = where
    COUNTS[f"MQTT relay reports ({len(DIALECT_TOPICS)} topics, {len(DIALECTS)} dialects)"] += 1
    try:
        report = DIALECTS[name].parse(topic, payload)
    except ParseError as err:
        COUNTS[f"MQTT relay reports ({len(DIALECT_TOPICS)} topics, {len(DIALECTS)} dialects)"
               " [refused]"] += 1
        one_line(err)
        return
    assert report is None or isinstance(report, Report)
    if report is not None and report.energised is not None:
        assert isinstance(report.energised, bool)


FLAMES: list[MqttInput] = [
    FlameInput(topic="kitchen/flame"), FlameInput(topic="f", json_path="sensor.lit"),
    FlameInput(topic="f", json_path="flame", lit="lit", out="out"),
    # the stove guard's inputs (issue 16): a stove-top temperature, presence, an alarm
    FlameInput(topic="f", json_path="temperature", lit_above=60, out_below=45),
    FlameInput(topic="f", lit_above=60),
    PresenceInput(topic="p", json_path="occupancy"),
    HazardInput(topic="s", json_path="smoke", kind="smoke")]


@profile(200)
@given(flame=st.sampled_from(FLAMES), payload=mqtt_payloads())
def test_flame_inputs_give_lit_out_nothing_or_a_parse_error(flame: MqttInput, payload: bytes) -> None:
    COUNTS["MQTT flame inputs"] += 1
    try:
        lit = flame.parse(payload)
    except ParseError as err:
        COUNTS["MQTT flame inputs [refused]"] += 1
        one_line(err)
        return
    assert lit is None or isinstance(lit, bool)


COMMAND_TOPICS = [t for t in REMOTE.subscriptions() if t != REMOTE.ha_status]


@profile(300)
@given(topic=st.sampled_from(COMMAND_TOPICS),
       payload=command_lines() | mqtt_payloads(deep=False))
def test_daemon_command_topics_give_a_command_or_a_one_line_usage_error(topic: str, payload: bytes) -> None:
    COUNTS[f"MQTT daemon command topics ({len(COMMAND_TOPICS)})"] += 1
    try:
        command = REMOTE.parse(topic, payload)
    except UsageError as err:
        COUNTS[f"MQTT daemon command topics ({len(COMMAND_TOPICS)}) [refused]"] += 1
        one_line(err)
        return
    if topic != REMOTE.command:
        assert command.burners == (topic.split("/")[-2],)
    if command.delay_s is not None:
        assert 1 <= command.delay_s <= MAX_DELAY_S


@profile(300)
@given(payload=command_lines() | mqtt_payloads(deep=True)
       | st.builds(lambda t, i: json.dumps({"text": t, "id": i}).encode(), st.text(max_size=600),
                   st.text(max_size=80) | st.integers()))
def test_the_say_topic_gives_an_utterance_or_a_one_line_usage_error(payload: bytes) -> None:
    COUNTS["MQTT say topic"] += 1
    try:
        request = parse_say(payload, REMOTE.say)
    except UsageError as err:
        COUNTS["MQTT say topic [refused]"] += 1
        one_line(err)
        return
    assert 0 < len(request.text) <= MAX_UTTERANCE_CHARS and "\n" not in request.text
    assert request.lang in ("auto", "zh", "en") and len(request.id) <= 64


@pytest.mark.parametrize("topic", COMMAND_TOPICS[:2])
@pytest.mark.parametrize("payload", NESTED_LINES.values(), ids=NESTED_LINES.keys())
def test_deeply_nested_mqtt_commands_are_one_line_usage_errors(topic: str, payload: bytes) -> None:
    with pytest.raises(UsageError) as err:
        REMOTE.parse(topic, payload)
    one_line(err.value)


# -- miio device replies ------------------------------------------------------------------


class ForgingDevice(MiioSimDevice):
    """A simulated relay that answers every command with a forged reply.

    The forge sees the honest reply (the relay is released: a cut never happened)
    and the request, and returns any JSON; the driver must refuse what it cannot
    read and never take it for "energised".
    """

    forge: Callable[[dict[str, Any], dict[str, Any]], Any] = staticmethod(lambda honest, _: honest)

    def _encrypt(self, payload: dict[str, Any]) -> bytes:
        if self.requests and payload.get("id") == self.requests[-1].get("id"):
            forged = self.forge(payload, self.requests[-1])
            return super()._encrypt(forged)
        return super()._encrypt(payload)


@pytest.fixture(scope="module")
def forgers() -> Iterator[dict[str, ForgingDevice]]:
    devices = {protocol: ForgingDevice(MiioSimSettings(_free_host(), TOKEN, protocol=protocol))
               for protocol in ("miot", "legacy")}
    with serve_in_thread(*devices.values()):
        yield devices


@st.composite
def forges(draw: st.DrawFn) -> tuple[str, Any]:
    """A way to forge a reply: (kind, what), applied by :func:`forged`."""
    value = json_values(["id", "result", "error", "did", "siid", "piid", "code", "value", "on",
                         "ok", "model"], leaves=8)
    kind = draw(st.sampled_from(["result", "item", "item", "error", "payload", "extra", "id"]))
    if kind == "item":
        return kind, (draw(st.sampled_from(["value", "code", "did", "siid", "piid", 0])),
                      draw(value))
    if kind == "id":
        return kind, draw(st.sampled_from([None, "1", -1, 0, 1.5, [1]]))
    return kind, draw(value)


def forged(how: tuple[str, Any], honest: dict[str, Any], request: dict[str, Any]) -> Any:
    kind, what = how
    reply = json.loads(json.dumps(honest))
    if kind == "result":
        return {"id": request["id"], "result": what}
    if kind == "error":
        return {"id": request["id"], "error": what}
    if kind == "payload":
        return what
    if kind == "id":
        return {**reply, "id": what}
    if kind == "extra":
        return {**reply, "extra": what}
    field, value = what
    result = reply.get("result")
    if isinstance(result, list) and result:
        if isinstance(result[0], dict) and field != 0:
            result[0][field] = value
        else:
            result[0] = value
    return reply


def says(payload: Any, request: dict[str, Any], protocol: str) -> bool | None:
    """What a reply truly reports for our relay: energised, released or None (nothing)."""
    if not isinstance(payload, dict) or payload.get("id") != request["id"] or "error" in payload:
        return None
    result = payload.get("result", payload)
    if protocol == "legacy":
        return result[0] == "on" if isinstance(result, list) and result and \
            result[0] in ("on", "off") else None
    asked = request["params"][0]["did"]
    if not (isinstance(result, list) and len(result) == 1 and isinstance(result[0], dict)):
        return None
    item = result[0]
    if item.get("did") != asked or item.get("code", 0) != 0 or "value" not in item:
        return None
    value = item["value"]
    return bool(value) if isinstance(value, bool | int) else None


@profile(120)
@given(protocol=st.sampled_from(["miot", "legacy"]), how=forges(),
       op=st.sampled_from(["read", "wait_for", "switch", "identify"]))
# found by this property: an "error" that is not an object escaped python-miio as a TypeError
@example(protocol="miot", how=("error", None), op="read")
@example(protocol="legacy", how=("error", []), op="switch")
@example(protocol="miot", how=("error", {"code": "x\ny"}), op="wait_for")
@example(protocol="miot", how=("result", {"model": "x\ny", "fw_ver": ["1"]}), op="identify")
def test_forged_device_replies_raise_relay_errors_and_never_confirm(
    forgers: dict[str, ForgingDevice], protocol: str, how: tuple[str, Any], op: str,
) -> None:
    device = forgers[protocol]
    seen: list[tuple[Any, dict[str, Any]]] = []

    def forge(honest: dict[str, Any], request: dict[str, Any]) -> Any:
        reply = forged(how, honest, request)
        seen.append((reply, request))
        return reply

    device.forge = forge  # type: ignore[method-assign]
    device.energised = False  # released, whatever an earlier example's forged write did
    config = MiioRelayConfig.model_validate(
        {"type": "miio", "host": device.settings.host, "token": TOKEN, "protocol": protocol})
    relay = MiioRelay(config, per_try=0.05)
    deadline = time.monotonic() + 0.12  # what is not an answer costs the whole deadline
    COUNTS["miio device replies (real UDP)"] += 1

    async def act() -> Any:
        if op == "read":
            return await relay.read(deadline=deadline)
        if op == "wait_for":
            return await relay.wait_for(True, deadline=deadline)
        if op == "switch":
            return await relay.switch(True, deadline=deadline)
        return await relay.identify(deadline=deadline)

    try:
        result = asyncio.run(act())
    except RelayError as err:
        COUNTS["miio device replies (real UDP) [refused]"] += 1
        one_line(err)
        assert TOKEN not in str(err)
        return
    if op == "identify":
        assert isinstance(result, str) and "\n" not in result
        return
    answers = [says(reply, request, protocol) for reply, request in seen]
    if op == "read":
        assert result is answers[-1], (seen[-1], result)
    if op == "wait_for":
        needed = 2 if protocol == "legacy" else 1
        assert answers[-needed:] == [True] * needed, f"confirmed a cut on {seen}"
    if op == "switch":
        reply, request = seen[-1]
        assert isinstance(reply, dict) and reply.get("id") == request["id"] and "error" not in reply


@profile(200)
@given(tail=st.binary(min_size=28, max_size=28))
def test_any_handshake_answer_is_read_or_ignored(tail: bytes) -> None:
    COUNTS["miio handshake answers"] += 1
    found = _hello(bytes.fromhex("21310020") + tail)
    assert found is None or len(found) == 2


# -- voice ----------------------------------------------------------------------------------

def _grammar_words(lang: str) -> list[str]:
    """The literal words of the grammar's templates and lists (what people say to it)."""
    data = sentence_data(lang)  # type: ignore[arg-type]
    texts = [s for intent in data["intents"].values() for block in intent["data"]
             for s in block["sentences"]]
    texts += list(data["expansion_rules"].values())
    texts += [v["in"] for v in data["lists"]["burner"]["values"]]
    words = set()
    for text in texts:
        text = re.sub(r"<[^>]*>|\{[^}]*\}", " ", text)
        words.update(w for w in re.split(r"[\s()\[\]|]+", text) if w)
    return sorted(words)


EN_WORDS = _grammar_words("en")
ZH_WORDS = _grammar_words("zh")
#: Words that name the stove or a burner, and words that mean "off" (or a shut-off timer).
EN_STOVE = {"stove", "stoves", "cooker", "hob", "hobs", "cooktop", "gas", "flame", "flames",
            "burner", "burners", "fire", "left", "right", "all", "both", "each", "every"}
EN_OFF = {"off", "out", "stop", "kill", "cut", "extinguish", "deactivate", "shut", "shutoff",
          "close", "timer", "down"}
ZH_STOVE = "灶炉火气左右全所两"
ZH_OFF = "关熄灭"
DELAYS_EN = st.one_of(
    st.builds("{} {}".format, NUMBERS, st.sampled_from(["minutes", "hours", "seconds", "min"])),
    st.builds("{} {}".format, st.sampled_from(["minus", "negative", "-", "−", "- ", ""]),
              st.sampled_from(["five minutes", "5 minutes", "an hour", "half an hour", "1h 5m"])),
)
DELAYS_ZH = st.one_of(
    st.builds("{}{}".format, NUMBERS, st.sampled_from(["分钟", "小时", "秒", "个小时", "刻钟"])),
    st.builds("{}{}{}".format, st.sampled_from(["负", "-", "−", "减", "零", ""]),
              st.text(alphabet="零〇一二两三四五六七八九十百千万点半", min_size=1, max_size=4),
              st.sampled_from(["分钟", "小时", "秒", "个半小时"])),
)
MINUS = re.compile(r"minus|negative|负|[-−\u2010\u2013\ufe63\uff0d]\s*"
                   r"[\d零〇一二两三四五六七八九十百千万半fa]")


@st.composite
def spoken_delays(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.booleans()):
        delay = draw(DELAYS_EN)
        template = draw(st.sampled_from(["turn off the stove in {}", "in {} turn off the gas",
                                         "set a stove timer for {}", "shut the left burner off in {}",
                                         "turn off the stove {} from now"]))
    else:
        delay = draw(DELAYS_ZH)
        template = draw(st.sampled_from(["{}后关火", "过{}关掉燃气灶", "左边的火{}后关掉", "定时{}关火"]))
    return template.format(delay), delay


@profile(250)
@given(said=spoken_delays())
def test_spoken_delays_are_what_was_said_or_not_understood(said: tuple[str, str]) -> None:
    text, delay = said
    COUNTS["voice (delays)"] += 1
    command = parse_utterance(text)
    assert isinstance(command, VoiceCommand)
    if command.intent is None:
        COUNTS["voice (delays) [refused]"] += 1
        return
    assert not MINUS.search(delay.lower()), f"{text!r} understood as {command}"
    if command.delay_s is not None:
        assert isinstance(command.delay_s, int) and 1 <= command.delay_s <= MAX_DELAY_S
        lang = "zh" if re.search(r"[\u3400-\u9fff]", text) else "en"
        # what the delay parser makes of the delay alone ("5." is 5: a point ending a number
        # is punctuation in a sentence)
        alone = parse_delay(re.sub(r"(?<=\d)\.(?!\d)", "", delay), lang)
        assert command.delay_s == alone, (text, command)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@st.composite
def sentences_without(draw: st.DrawFn, lang: str, missing: str) -> str:
    """A sentence of grammar words and noise without any word of one kind (stove or off)."""
    if lang == "en":
        banned = EN_STOVE if missing == "stove" else EN_OFF
        vocab = [w for w in EN_WORDS if w not in banned]
        pieces = draw(st.lists(st.sampled_from(vocab) | DELAYS_EN | st.text(max_size=6),
                               min_size=1, max_size=8))
        text = " ".join(pieces)
        assume(not set(re.findall(r"[a-z']+", _normal(text))) & banned)
    else:
        banned_chars = ZH_STOVE if missing == "stove" else ZH_OFF
        vocab = [w for w in ZH_WORDS if not set(w) & set(banned_chars)]
        pieces = draw(st.lists(st.sampled_from(vocab) | DELAYS_ZH | st.text(max_size=4),
                               min_size=1, max_size=8))
        text = "".join(pieces)
        assume(not set(_normal(text)) & set(banned_chars))
    return text


@profile(300)
@given(lang=st.sampled_from(["en", "zh"]), missing=st.sampled_from(["stove", "off"]),
       data=st.data())
def test_a_sentence_without_a_stove_or_an_off_word_never_shuts_off(
    lang: str, missing: str, data: st.DataObject,
) -> None:
    text = data.draw(sentences_without(lang, missing), label="sentence")
    COUNTS["voice (no stove or no off word)"] += 1
    command = parse_utterance(text)
    assert isinstance(command, VoiceCommand)
    assert command.intent != "shut_off", f"{text!r} shuts off: {command}"
    if command.intent is None:
        COUNTS["voice (no stove or no off word) [refused]"] += 1
