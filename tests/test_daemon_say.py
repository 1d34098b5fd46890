"""The daemon's MQTT say topic on a real mosquitto (issue 19 item 2): an utterance in,
what was understood, what was done and what to say back out; the same refusals as
everywhere (never "turn on", nothing done on what was not understood, a failed shut-off
said as a failure), and a retained, replayed or huge message not acted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gasstove.daemon.service import Daemon
from gasstove.domain.errors import UsageError
from gasstove.domain.voice.say import MAX_SAY_BYTES, SayRequest, parse_say

from .fixtures_mqtt import MqttSim
from .test_daemon_mqtt import Watcher, run_daemon, setup  # noqa: F401 (a fixture)

Setup = tuple[str, str, MqttSim, Watcher, Path]


def _with_alias(config: Path) -> None:
    config.write_text(config.read_text().replace("    left:\n", "    left:\n      aliases: [左边的灶]\n"))


def _say(watcher: Watcher, base: str, payload: str, *, retain: bool = False) -> Any:
    """Publish on the say topic; the next answer on say/result."""
    mark = len(watcher.messages)
    watcher.publish(f"{base}/say", payload, retain=retain)
    return watcher.wait(lambda t, p: t == f"{base}/say/result", after=mark)


def test_an_utterance_is_understood_done_and_answered_in_its_language(setup: Setup) -> None:  # noqa: F811
    base, _, sim, watcher, config = setup
    _with_alias(config)

    def body(daemon: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        # plain text, the example of issue 19
        said = _say(watcher, base, "十分钟后关火")
        assert said["understood"] == {"intent": "shut_off", "delay_s": 600, "burner": None}
        assert said["ok"] and said["exit"] == 0, said
        assert said["reply"] == "好的，左边的灶10分钟后关火。"
        assert 595 <= said["burners"][0]["timer"]["in_s"] <= 600
        assert "left" in daemon.timers and sim.burner.lit
        said = _say(watcher, base, json.dumps({"text": "还有多久", "id": "q1"}))
        assert said["id"] == "q1" and said["understood"]["intent"] == "status"
        assert said["lang"] == "zh"
        # (issue 16 item 7: with no flame input it says it cannot know whether it is lit)
        assert said["reply"].startswith("左边的灶可以点火，") and said["reply"].endswith(
            "后关火，有没有点着无法知道（没有火焰传感器）。")
        said = _say(watcher, base, json.dumps({"text": "取消定时", "lang": "zh-cn"}))
        assert said["reply"] == "已取消左边的灶的定时关火。" and "left" not in daemon.timers
        said = _say(watcher, base, json.dumps({"text": "cancel the timer"}))
        assert said["ok"] and said["reply"] == "No shut-off timer was set."
        said = _say(watcher, base, "再等五分钟")  # the guard's snooze
        assert said["ok"] and said["reply"] == "好的，左边的灶的自动关火推迟5分钟。", said
        # JSON, English, now
        said = _say(watcher, base, json.dumps({"text": "Turn off the stove!", "id": 7}))
        assert said["id"] == "7" and said["ok"] and said["lang"] == "en", said
        assert said["reply"] == "OK, 左边的灶 shut off."
        assert not sim.burner.lit

    run_daemon(config, body)


def test_what_is_not_understood_or_asks_to_turn_on_does_nothing(setup: Setup) -> None:  # noqa: F811
    base, _, sim, watcher, config = setup

    def body(daemon: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        for text, reply in [("十分钟后打开燃气灶", "抱歉，没听懂，什么也没做。"),
                            ("关火然后点火", "抱歉，没听懂，什么也没做。"),
                            ("turn the stove on in 10 minutes",
                             "Sorry, I did not understand that; nothing was done."),
                            ("play some music", "Sorry, I did not understand that; nothing was done."),
                            ("关掉右边的火", "抱歉，没听懂，什么也没做。")]:  # no right burner here
            said = _say(watcher, base, text)
            assert said["ok"] is False and said["exit"] == 2, said
            assert said["understood"]["intent"] is None and said["reply"] == reply
            assert "burners" not in said
        assert sim.burner.lit and not daemon.timers

    run_daemon(config, body)


def test_a_retained_replayed_huge_or_malformed_utterance_is_not_acted_on(setup: Setup) -> None:  # noqa: F811
    base, _, sim, watcher, config = setup

    def body(daemon: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        # retained: it would act again on every reconnect; removed from the broker
        mark = len(watcher.messages)
        said = _say(watcher, base, "关火", retain=True)
        assert said["ok"] is False and said["exit"] == 2 and "retained" in said["error"]
        assert said["reply"] is None and said["understood"] is None
        watcher.wait(lambda t, p: t == f"{base}/say" and p == "", after=mark)
        assert sim.burner.lit
        # replayed: an id answered once is not acted on again (a late copy of
        # "in 10 minutes" must not push a newer timer back, nor revive a cancelled one)
        first = json.dumps({"text": "十分钟后关火", "id": "xiaoai-1733070000"})
        assert _say(watcher, base, first)["ok"]
        assert _say(watcher, base, json.dumps({"text": "取消定时", "id": "c"}))["ok"]
        said = _say(watcher, base, first)
        assert said["ok"] is False and "answered already" in said["error"], said
        assert not daemon.timers
        # too large, unknown keys, deep JSON, wrong types, empty, too long
        for payload in ["关火" * MAX_SAY_BYTES, '{"text": "关火", "burner": "left"}',
                        '{"text": ' + "[" * 5000 + "]" * 5000 + "}", '{"text": 5}',
                        '{"text": "关火", "lang": "fr"}', "   ", "关" * 600 + "火"]:
            mark = len(watcher.messages)
            watcher.client.publish(f"{base}/say", payload, qos=1).wait_for_publish(5)
            said = watcher.wait(lambda t, p: t == f"{base}/say/result", after=mark)
            assert said["ok"] is False and said["exit"] == 2 and "\n" not in said["error"], said
            assert len(said["error"]) < 200, said["error"]
        assert sim.burner.lit and not daemon.timers

    run_daemon(config, body)


def test_a_failed_shut_off_is_said_as_a_failure(setup: Setup) -> None:  # noqa: F811
    base, _, sim, watcher, config = setup
    _with_alias(config)

    def body(_: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        sim.sim.kill()  # the relay is gone (its LWT says offline)
        said = _say(watcher, base, "马上关火")
        assert said["ok"] is False and said["exit"] == 1, said
        assert said["reply"] == "警告：左边的灶的关火没有得到确认，请马上检查灶具。"
        said = _say(watcher, base, "turn off the stove")
        assert said["reply"].startswith("Warning: the shut-off of 左边的灶 was NOT confirmed")

    run_daemon(config, body)


def test_a_say_message_that_is_not_utf8_is_refused_in_one_line() -> None:
    # (on the broker the test's watcher itself could not read it)
    with pytest.raises(UsageError, match=r"^k/say: not UTF-8 text$"):
        parse_say(b"\xff\xfe\xfd", "k/say")
    assert parse_say('{"text": " 关火 ", "lang": "zh-Hans", "id": 3}'.encode(), "k") == \
        SayRequest("关火", "zh", "3")
