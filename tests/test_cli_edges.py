"""The edges of the command line a user meets: `say --wait`, what `history --json` is."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .fixtures_miio import Run, SimRelay, burner_yaml, write_config


def cuts(sim: SimRelay) -> int:
    return sum(1 for r in sim.device.requests if r.get("method") == "set_properties"
               and r["params"][0].get("value") is True)


def test_say_wait_holds_a_delayed_shut_off_as_its_hint_says(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    # (a deadline a loaded machine meets: this is about who holds the timer)
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", sim), deadline="5s"))
    code, out, err = stove("-c", config, "say", "1秒后关火")
    assert (code, out) == (2, "") and "add --wait to keep this terminal as the timer" in err
    assert sim.device.requests == [] and sim.burner.lit
    code, out, err = stove("-c", config, "say", "--wait", "turn off the stove in 1 second")
    assert code == 0, (out, err)
    assert "shutting off left in 1s" in err and "left" in out
    assert cuts(sim) == 1 and not sim.burner.lit
    code, out, _ = stove("-c", config, "history", "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["source"] == "voice"


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
