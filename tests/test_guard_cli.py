"""The stove guard from a terminal: `stove status` shows a warning and lit/out (or that it
cannot know), `stove snooze`, voice ("five more minutes", "is the stove on?") and
`stove check`, against a real `stove serve` process on a real mosquitto."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gasstove.sim.broker import Mosquitto

from .fixtures_miio import Run, SimRelay, burner_yaml
from .test_daemon_mqtt import Watcher


def stove(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, mosquitto: Mosquitto, left: SimRelay, right: SimRelay,
          tag: str) -> Path:
    config = tmp_path / "gasstove.yaml"
    config.write_text(
        "stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n"
        + burner_yaml("left", left, extra=f"      flame: {{topic: k{tag}/flame}}\n"
                                          "      max_burn: 1h\n")
        + burner_yaml("right", right)
        + f"mqtt: {{host: {mosquitto.host}, port: {mosquitto.port}}}\n"
        f"daemon:\n  database: {tmp_path}/g.db\n  socket: {tmp_path}/d.sock\n"
        f"  mqtt_topic: t{tag}/kitchen\n  discovery_prefix: null\n"
        f"guard:\n  presence: {{topic: k{tag}/motion}}\n  away_after: 10m\n"
        f"  hazards: [{{topic: k{tag}/smoke, kind: smoke}}]\n")
    config.chmod(0o600)
    return config


def test_status_warns_snooze_moves_the_timer_and_voice_asks_if_it_burns(
        tmp_path: Path, mosquitto: Mosquitto, miio_relay: Callable[..., SimRelay],
        serve: Callable[[Path], subprocess.Popen[str]]) -> None:
    tag = secrets.token_hex(3)
    left, right = miio_relay("left"), miio_relay("right")
    config = write(tmp_path, mosquitto, left, right, tag)
    watcher = Watcher(mosquitto, f"t{tag}/kitchen/#")
    try:
        serve(config)
        watcher.wait(lambda t, p: t == f"t{tag}/kitchen/guard")  # listening to its inputs
        watcher.publish(f"k{tag}/flame", "ON")
        watcher.wait(lambda t, p: t == f"t{tag}/kitchen/left/state" and p["lit"])

        done = stove(config, "status")
        assert done.returncode == 0, done.stderr
        *burners, in_force = done.stdout.splitlines()
        assert in_force.startswith("config ")  # (the last line: the file the daemon runs)
        lines = dict(line.split("  ", 1) for line in burners)
        assert lines["left"].endswith("; lit")
        assert lines["right"].endswith("; lit or not: cannot know (no flame input)")

        # a timer shorter than warn_before (60 s) is warned of at once
        mark = len(watcher.messages)
        assert stove(config, "off", "right", "--in", "30s").returncode == 0
        watcher.wait(lambda t, p: t == f"t{tag}/kitchen/warning", after=mark)
        time.sleep(1)
        warnings = [p for t, p, _ in watcher.messages[mark:] if t == f"t{tag}/kitchen/warning"]
        assert len(warnings) == 1, "announced once (not again at every reading of the clocks)"
        done = stove(config, "status", "right")
        assert "WARNING: Right burner shuts off in " in done.stdout and ": its timer" in done.stdout
        done = stove(config, "snooze", "right", "5m")
        assert done.returncode == 0 and "its timer moved to" in done.stdout, done.stderr
        assert "WARNING" not in done.stdout, "the snoozed warning is withdrawn at once"
        status = json.loads(stove(config, "status", "right", "--json").stdout)["burners"][0]
        assert status["warning"] is None and 290 < status["timer"]["in_s"] <= 300
        assert right.burner.lit

        done = stove(config, "say", "is the left burner on")
        assert done.returncode == 0 and done.stdout.startswith("left") and "; lit" in done.stdout
        done = stove(config, "say", "ten more minutes for the right burner")
        assert done.returncode == 0 and "held off until" in done.stdout, done.stderr
        status = json.loads(stove(config, "status", "right", "--json").stdout)["burners"][0]
        assert 590 < status["timer"]["in_s"] <= 600
        done = stove(config, "snooze", "left", "2h")
        assert done.returncode == 0 and "maximum burn time (1h) is the limit" in done.stdout
        assert stove(config, "cancel").returncode == 0
    finally:
        watcher.close()


def test_snooze_without_a_daemon_is_refused_in_one_line(
        tmp_path: Path, mosquitto: Mosquitto, miio_relay: Callable[..., SimRelay]) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    config = write(tmp_path, mosquitto, left, right, secrets.token_hex(3))
    for args in (("snooze", "left", "5m"), ("snooze", "left", "soon"), ("snooze",)):
        done = stove(config, *args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert left.device.requests == [] and right.device.requests == []


def test_check_says_what_each_guard_needs(
        stove: Run, tmp_path: Path, mosquitto: Mosquitto,
        miio_relay: Callable[..., SimRelay]) -> None:
    left, right = miio_relay("left"), miio_relay("right")
    config = write(tmp_path, mosquitto, left, right, "x")
    code, out, _ = stove("-c", str(config), "check")
    assert code == 0
    guard = out.split("stove guard (in `stove serve`):\n", 1)[1]
    assert "warnings 1m before every automatic shut-off" in guard
    assert "a lit burner is shut off after 10m with nobody in the kitchen" in guard
    assert "smoke alarm (kx/smoke): cuts and locks every burner at once; no availability " \
           "topic: cannot tell when it is offline" in guard
    assert "left: flame input: status says lit or out, max_burn 1h, inactivity cut" in guard
    assert "right: no flame input: cannot know whether it is lit" in guard
    assert "no alerts.on_cut" in guard
    code, out, _ = stove("-c", str(config), "check", "--json")
    assert json.loads(out)["guard"][0].startswith("warnings 1m")
    assert left.burner.lit and right.burner.lit
