"""What `stove` prints, text and --json, kept as snapshots (as python-wled does for its CLI).

A change to any line a user reads or a script parses shows up here as a diff to review
(`pytest tests/test_cli_output.py --snapshot-update` accepts it). The commands run as
users run them: one-shot against simulated miio relays on real UDP, and through a real
`stove serve`. What changes from run to run (addresses, milliseconds, clock times, paths,
pids) is replaced by a placeholder first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from gasstove.sim.miio_device import free_loopback_host

from .fixtures_miio import SimRelay, burner_yaml, write_config

_VARYING = [
    (re.compile(r"127\.0\.0\.\d+"), "127.0.0.N"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"), "<instant>"),
    (re.compile(r"\b\d\d:\d\d:\d\d([+-]\d\d:\d\d)?"), "<clock>"),
    (re.compile(r"\b\d+(\.\d+)? ?ms\b"), "N ms"),
    (re.compile(r'"(cut_ms|restore_ms|in_s|due_at|set_at|started_at|pid|late_s)": [0-9.e+-]+'),
     r'"\1": N'),
    (re.compile(r"\(in (\d+m ?\d*s?|\d+s|\d+:\d\d)\)"), "(in <left>)"),
    (re.compile(r"\btomorrow (at )?"), r"\1"),  # a run just before midnight
    (re.compile(r"\bpid \d+"), "pid N"),
    (re.compile(r'"requested_by": "[^"]*"'), '"requested_by": "<user>"'),
]


def _steady(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<tmp>")
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return text


@pytest.fixture
def two_burners(miio_relay: Callable[..., SimRelay], tmp_path: Path) -> Path:
    left = miio_relay("left")
    right = miio_relay("right", wiring="normally_open", protocol="legacy")
    config = write_config(tmp_path / "gasstove.yaml", burner_yaml("left", left),
                          burner_yaml("right", right, wiring="normally_open", protocol="legacy"))
    with config.open("a") as f:
        f.write(f"daemon:\n  database: {tmp_path}/g.db\n  socket: {tmp_path}/d.sock\n")
    return config


def _stove(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": "UTC0"})
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_one_shot_off_and_status(two_burners: Path, tmp_path: Path, as_json: bool,
                                 snapshot: SnapshotAssertion) -> None:
    flag = ("--json",) if as_json else ()
    assert _steady(_stove(two_burners, "off", "left", *flag), tmp_path) == snapshot(name="off")
    assert _steady(_stove(two_burners, "status", *flag), tmp_path) == snapshot(name="status")
    assert _steady(_stove(two_burners, "off", "back", *flag), tmp_path) == snapshot(
        name="unknown burner")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_through_the_daemon_timer_status_cancel(
    two_burners: Path, tmp_path: Path, as_json: bool, snapshot: SnapshotAssertion,
    serve: Callable[[Path], subprocess.Popen[str]],
) -> None:
    serve(two_burners)
    flag = ("--json",) if as_json else ()
    for name, args in [("timer", ("off", "left", "--in", "20m")),
                       ("status", ("status",)),
                       ("lock", ("lock", "right")),
                       ("unlock", ("unlock", "right")),
                       ("cancel", ("cancel", "left"))]:
        assert _steady(_stove(two_burners, *args, *flag), tmp_path) == snapshot(name=name)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_shut_off_no_relay_answers(tmp_path: Path, as_json: bool,
                                     snapshot: SnapshotAssertion) -> None:
    config = write_config(tmp_path / "gasstove.yaml",
                          burner_yaml("left", None, host=free_loopback_host()), deadline="0.5s")
    flag = ("--json",) if as_json else ()
    assert _steady(_stove(config, "off", "left", *flag), tmp_path) == snapshot(name="off")
