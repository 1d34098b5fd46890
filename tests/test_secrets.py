"""No command prints or logs a token: every CLI path, success and failure, with a known secret.

(The daemon's log and socket replies: tests/test_serve.py runs it as a
process; Home Assistant diagnostics: tests_ha/.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from gasstove.cli.main import main

from .fixtures_miio import SimRelay, burner_yaml, write_config

SECRET = "5ec7e75ec7e75ec7e75ec7e75ec7e75e"  # what the device holds
WRONG = "abad1dea0abad1dea0abad1dea0abad1"  # a token that does not decrypt


def run(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, *args: str) -> str:
    with caplog.at_level(logging.DEBUG), pytest.raises(SystemExit):
        main(list(args))
    out = capsys.readouterr()
    return out.out + out.err + caplog.text


@pytest.mark.parametrize("token", [SECRET, WRONG])
def test_no_command_shows_the_token(
    miio_relay: Callable[..., SimRelay], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, token: str,
) -> None:
    sim = miio_relay(token=SECRET)
    config = str(write_config(tmp_path / "g.yaml", burner_yaml("left", sim, token=token),
                              deadline="1s"))
    text = "".join(run(capsys, caplog, "-c", config, *args) for args in (
        ["off"], ["off", "--json"], ["lock", "--json"], ["unlock"], ["status"], ["status", "--json"],
        ["check"], ["check", "--json"], ["cancel"], ["off", "--in", "20m"],
    ))
    assert text and SECRET not in text and WRONG not in text
    assert SECRET.upper() not in text.upper()


def test_config_errors_about_a_token_do_not_echo_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = SECRET[:-1]
    config = write_config(tmp_path / "g.yaml", burner_yaml("left", None, token=short))
    text = run(capsys, caplog, "-c", str(config), "status")
    assert "must be 32 hex characters" in text and short not in text
    monkeypatch.setenv("GASSTOVE_TOKEN", short)
    config.write_text(config.read_text().replace(short, "${GASSTOVE_TOKEN}"))
    text = run(capsys, caplog, "-c", str(config), "check", "--json")
    assert "must be 32 hex characters" in text and short not in text
