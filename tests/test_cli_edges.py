"""The edges of the command line a user meets: `say --wait`, what `history --json` is."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .fixtures_miio import Run, SimRelay, burner_yaml, write_config


def cuts(sim: SimRelay) -> int:
    return sum(1 for r in sim.device.requests if r.get("method") == "set_properties"
               and r["params"][0].get("value") is True)


def test_say_wait_holds_a_delayed_shut_off_as_its_hint_says(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """(Its own process: the countdown writes to the stderr it was imported with.)"""
    sim = miio_relay()
    # (a deadline a loaded machine meets: this is about who holds the timer)
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", sim), deadline="5s"))

    def stove(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gasstove", "-c", config, *args],
                              capture_output=True, text=True, timeout=60)

    done = stove("say", "1秒后关火")
    assert (done.returncode, done.stdout) == (2, "")
    assert "add --wait to keep this terminal as the timer" in done.stderr
    assert sim.device.requests == [] and sim.burner.lit
    done = stove("say", "--wait", "turn off the stove in 1 second")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "shutting off left in 1s" in done.stderr and "left" in done.stdout
    assert cuts(sim) == 1 and not sim.burner.lit
    done = stove("history", "--json")
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[0])["source"] == "voice"


def test_history_json_is_json_lines_and_its_help_says_so(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", sim)))
    code, out, _ = stove("-c", config, "history", "--json")
    assert (code, out) == (0, ""), "no event: no line"
    assert stove("-c", config, "off")[0] == 0
    assert stove("-c", config, "lock")[0] == 0
    code, out, _ = stove("-c", config, "history", "--json")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["lock", "cut"]
    code, out, _ = stove("history", "--help")
    assert "JSON lines: one event object per line" in " ".join(out.replace("│", " ").split())
