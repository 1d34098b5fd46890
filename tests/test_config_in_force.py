"""Which configuration is in force (issue 20 item 1): a command never acts through a
running daemon on another configuration than the one it names, and says which one runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .fixtures_miio import Run, SimRelay, burner_yaml, random_token

Serve = Callable[[Path], subprocess.Popen[str]]


def cuts(sim: SimRelay) -> int:
    return sum(1 for r in sim.device.requests if r.get("method") == "set_properties"
               and r["params"][0].get("value") is True)


def config_file(path: Path, *burners: str) -> Path:
    folder = path.parent
    path.write_text("stove:\n  name: kitchen\n  deadline: 2s\n  burners:\n" + "".join(burners)
                    + f"daemon:\n  database: {folder}/g.db\n  socket: {folder}/d.sock\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def running(tmp_path: Path, miio_relay: Callable[..., SimRelay], serve: Serve
            ) -> tuple[Path, SimRelay, subprocess.Popen[str]]:
    sim = miio_relay("left")
    config = config_file(tmp_path / "a.yaml", burner_yaml("left", sim))
    return config, sim, serve(config)


def test_another_config_than_the_daemons_exits_2_naming_both_and_sends_nothing(
    running: tuple[Path, SimRelay, subprocess.Popen[str]], stove: Run, tmp_path: Path,
    miio_relay: Callable[..., SimRelay], monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, sim, _ = running
    back = miio_relay("back")
    other = config_file(tmp_path / "other.yaml", burner_yaml("left", sim),
                        burner_yaml("back", back, token=random_token()))
    expected = (f"error: the running `stove serve` uses {config} (loaded at ")
    for args in (["off", "back"], ["off"], ["off", "left", "--in", "20m"], ["lock"], ["status"]):
        code, out, err = stove("-c", str(other), *args)
        assert (code, out) == (2, ""), err
        assert err.startswith(expected) and err.count("\n") == 1, err
        assert f"), not {other}: nothing was done" in err
    monkeypatch.setenv("GASSTOVE_CONFIG", str(other))
    code, _, err = stove("off", "left")
    assert code == 2 and err.startswith(expected)
    code, _, _ = stove("-c", str(config), "status")  # -c is what counts
    assert code == 0
    assert cuts(sim) == cuts(back) == 0 and sim.burner.lit and back.burner.lit


def test_the_same_file_by_a_symlink_a_relative_path_or_a_copy_is_the_same_config(
    running: tuple[Path, SimRelay, subprocess.Popen[str]], stove: Run, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, sim, _ = running
    link = tmp_path / "link.yaml"
    link.symlink_to(config)
    copy = tmp_path / "copy.yaml"
    shutil.copy(config, copy)
    monkeypatch.chdir(tmp_path)
    for path in (str(link), "a.yaml", "./sub/../a.yaml", str(copy)):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = stove("-c", path, "status")
        assert (code, err) == (0, ""), (path, err)
    code, _, _ = stove("-c", str(link), "off", "left")
    assert code == 0 and cuts(sim) == 1 and not sim.burner.lit


def test_the_file_edited_since_the_daemon_started_exits_2(
    running: tuple[Path, SimRelay, subprocess.Popen[str]], stove: Run, tmp_path: Path,
) -> None:
    config, sim, _ = running
    link = tmp_path / "link.yaml"
    link.symlink_to(config)
    with config.open("a") as file:
        file.write("# an edit the daemon has not seen\n")
    for path in (config, link):
        code, out, err = stove("-c", str(path), "off", "left")
        assert (code, out) == (2, "")
        assert err.startswith(f"error: {config} changed since `stove serve` loaded it at ")
        assert "nothing was done; restart `stove serve`" in err and err.count("\n") == 1
    assert cuts(sim) == 0 and sim.burner.lit


def test_status_says_which_config_the_daemon_runs_and_since_when(
    running: tuple[Path, SimRelay, subprocess.Popen[str]], stove: Run,
) -> None:
    config, _, daemon = running
    code, out, _ = stove("-c", str(config), "status")
    assert code == 0
    last = out.splitlines()[-1]
    assert last.startswith(f"config {config}: run by `stove serve` (pid {daemon.pid}) since ")
    code, out, _ = stove("-c", str(config), "status", "--json")
    report = json.loads(out)
    assert report["config"] == str(config)
    assert report["daemon"]["config"] == str(config) and report["daemon"]["pid"] == daemon.pid
    assert report["daemon"]["since"].endswith("+00:00")  # machine form: UTC
    daemon.terminate()
    daemon.wait(10)
    code, out, _ = stove("-c", str(config), "status")
    assert code == 0 and out.splitlines()[-1] == (
        f"config {config}: no `stove serve` is running; relays read directly")
    assert json.loads(stove("-c", str(config), "status", "--json")[1])["daemon"] is None


def test_a_client_of_the_daemon_needs_no_secret(
    tmp_path: Path, miio_relay: Callable[..., SimRelay], serve: Serve, stove: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = miio_relay("left")
    monkeypatch.setenv("LEFT_TOKEN", sim.token)
    config = config_file(tmp_path / "a.yaml", burner_yaml("left", sim, token="${LEFT_TOKEN}"))
    serve(config)
    monkeypatch.delenv("LEFT_TOKEN")
    code, _, err = stove("-c", str(config), "off", "left")
    assert (code, err) == (0, "") and not sim.burner.lit
    assert os.environ.get("LEFT_TOKEN") is None
