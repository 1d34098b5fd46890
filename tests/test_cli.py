"""The `stove` command as a user runs it, against simulated relays on real UDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gasstove.cli.countdown import clock_text, wait_then
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_miio import TOKEN, Run, SimRelay, burner_yaml, random_token, write_config


def test_off_puts_the_flame_out_and_json_reports_what_was_confirmed(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    left = miio_relay("left")
    right = miio_relay("right", wiring="normally_open", protocol="legacy")
    config = write_config(tmp_path / "gasstove.yaml", burner_yaml("left", left),
                          burner_yaml("right", right, wiring="normally_open", protocol="legacy"))
    code, out, err = stove("--config", str(config), "off", "left", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["ok"] is True and report["action"] == "shut_off"
    (burner,) = report["burners"]
    assert burner["burner"] == "left" and burner["ok"] and burner["restored"]
    assert burner["relay"] == "resting" and isinstance(burner["cut_ms"], int)
    assert not left.burner.lit and left.burner.state().loop_closed
    assert right.burner.lit, "only the named burner goes out"

    code, out, _ = stove("--config", str(config), "off", "right")
    assert code == 0 and out.startswith("right  shut off: loop opened")
    assert not right.burner.lit and right.device.energised  # NO wiring: at rest energised


def test_thirty_percent_loss_still_succeeds(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay(loss=0.3, seed=3)
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim), deadline="5s")
    start = time.monotonic()
    code, _, _ = stove("-c", str(config), "off")
    assert code == 0 and not sim.burner.lit
    assert time.monotonic() - start < 1 + 2 * 5  # pulse + two deadlines (cut, restore)


def test_a_dead_relay_exits_1_with_a_clear_message_within_the_deadline(
    stove: Run, tmp_path: Path,
) -> None:
    host = free_loopback_host()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", None, host=host), deadline="1s")
    start = time.monotonic()
    code, out, err = stove("-c", str(config), "off", "left")
    assert time.monotonic() - start < 1.7
    assert code == 1 and out == ""
    assert err == f"left  shut-off NOT confirmed: no answer from {host} within the deadline (3 tries)\n" \
        or err.startswith(f"left  shut-off NOT confirmed: no answer from {host}")


def test_a_failed_shut_off_is_one_line_and_json_is_only_json(tmp_path: Path) -> None:
    """The installed command (no pytest log capture): the reason once, on stderr; --json
    prints the object alone on stdout. The alert still reaches the history."""
    host = free_loopback_host()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", None, host=host),
                          deadline="0.5s")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), *args],
                              capture_output=True, text=True, timeout=60)

    done = run("off", "left")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"left  shut-off NOT confirmed: no answer from {host}")
    assert done.stderr.count("\n") == 1, done.stderr
    done = run("off", "left", "--json")
    assert done.returncode == 1 and done.stderr == ""
    assert json.loads(done.stdout)["ok"] is False and done.stdout.count("\n") == 1
    done = run("history", "--json")
    assert [json.loads(line)["result"] for line in done.stdout.splitlines()] == ["failed"] * 2


def test_a_wrong_token_exits_1_naming_the_host_never_the_token(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    wrong = random_token()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim, token=wrong), deadline="1s")
    code, out, err = stove("-c", str(config), "off", "--json")
    assert code == 1
    assert f"token rejected by {sim.host}" in json.loads(out)["burners"][0]["message"]
    assert wrong not in out + err and sim.burner.lit


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["off", "--in", "soon"], "error: not a duration: 'soon'"),
        (["off", "--in", "0s"], "error: duration must be more than zero: '0s'"),
        (["off", "--in", "-5m"], "error: duration must be more than zero: '-5m'"),
        (["off", "--in", "5.5.5m"], "error: not a duration: '5.5.5m'"),
        (["off", "--in", "NaNm"], "error: not a duration: 'NaNm'"),
        (["off", "--in", "30h"], "error: duration too long: '30h'"),
        (["off", "middle"], "error: unknown burner 'middle' (this stove has: left)"),
        (["off", "--in", "20m"], "error: no `stove serve` daemon is running to hold the timer"),
        (["off", "--in", "20m", "--at", "18:00"], "error: give either --in or --at"),
        (["lock", "nowhere"], "error: unknown burner 'nowhere'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_sends_nothing(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
    args: list[str], expected: str,
) -> None:
    sim = miio_relay()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim))
    code, out, err = stove("-c", str(config), *args)
    assert code == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1
    assert sim.device.requests == [] and sim.burner.lit


def test_a_bad_config_exits_2_naming_file_line_and_key(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim, wiring="sideways"))
    code, _, err = stove("-c", str(config), "off")
    assert code == 2
    assert err.startswith(f"error: {config}:6 stove.burners.left.wiring: Input should be")
    assert sim.device.requests == []
    code, _, err = stove("-c", str(tmp_path / "none.yaml"), "status")
    assert code == 2 and "no configuration file" in err


def test_status_lock_unlock_and_check(
    stove: Run, miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    sim = miio_relay()
    config = str(write_config(tmp_path / "c.yaml", burner_yaml("left", sim)))
    code, out, _ = stove("-c", config, "status", "--json")
    assert code == 0 and json.loads(out)["burners"][0]["relay"] == "resting"
    code, out, _ = stove("-c", config, "lock")
    assert code == 0 and out.startswith("left  locked") and not sim.burner.lit
    code, out, _ = stove("-c", config, "status")
    assert code == 0 and "held off" in out
    code, out, _ = stove("-c", config, "check")
    assert code == 0 and "left: miio" in out and "cuco.plug.cp2 firmware" in out and "cutting" in out
    code, out, _ = stove("-c", config, "unlock", "left")
    assert code == 0 and "unlocked" in out and sim.burner.state().loop_closed
    assert TOKEN not in out


def test_check_reports_an_unreachable_relay(stove: Run, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml",
                          burner_yaml("left", None, host=free_loopback_host()), deadline="0.5s")
    code, _, err = stove("-c", str(config), "check")
    assert code == 1 and "left: miio" in err and "NOT reachable" in err


def test_check_says_in_one_line_that_a_host_name_does_not_resolve(stove: Run, tmp_path: Path) -> None:
    # .invalid never resolves (RFC 2606)
    config = write_config(tmp_path / "c.yaml",
                          burner_yaml("left", None, host="stove-relay.invalid"), deadline="1s")
    code, out, err = stove("-c", str(config), "check")
    assert code == 1 and out.startswith(f"{config}: valid")
    assert err.startswith("  left: miio stove-relay.invalid (siid 2 piid 1): NOT reachable: the "
                          "host name stove-relay.invalid does not resolve (")  # (the resolver's words)
    assert err.count("\n") == 1 and err.endswith(")\n")


def test_check_says_in_one_line_that_a_brokers_host_name_does_not_resolve(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("stove:\n  deadline: 1s\n  burners:\n    left:\n      relay: {type: mqtt, "
                      "dialect: tasmota, topic: plug}\nmqtt:\n  host: broker.invalid\n")
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "check"],
                          capture_output=True, text=True, timeout=60)  # (no pytest log capture)
    assert done.returncode == 1 and done.stdout.startswith(f"{config}: valid")
    assert done.stderr.startswith("  left: mqtt tasmota cmnd/plug/POWER: NOT reachable: MQTT broker "
                                  "broker.invalid:1883 not reachable within the deadline: the host "
                                  "name broker.invalid does not resolve (")
    assert done.stderr.count("\n") == 1, done.stderr


def test_the_countdown_holds_then_fires_and_ctrl_c_cancels() -> None:
    import io

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    out = io.StringIO()
    assert wait_then(125, ["left"], monotonic=lambda: now[0], sleep=sleep, out=out)
    assert now[0] == pytest.approx(125)
    assert "shutting off left in 2m5s" in out.getvalue() and "01:05 left" in out.getvalue()

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    out = io.StringIO()
    assert not wait_then(60, ["left"], monotonic=lambda: 0.0, sleep=interrupt, out=out)
    assert "timer cancelled: nothing was sent to the stove" in out.getvalue()
    assert clock_text(3725) == "1:02:05" and clock_text(59.2) == "01:00"


def test_the_installed_command_gives_one_line_errors_not_tracebacks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stove: {burners: {left: {relay: {type: miio, host: x, token: nothex}}}}\n")
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(bad), "off"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"error: {bad}:1 stove.burners.left.relay.token: "
                           "must be 32 hex characters\n")
    done = subprocess.run([sys.executable, "-m", "gasstove", "off", "--bogus"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "No such option: --bogus" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_runs_the_whole_loop_with_nothing_configured(stove: Run) -> None:
    code, out, _ = stove("demo", "--cut-seconds", "1")
    assert code == 0
    assert "$ stove off left" in out
    # the stove guard (issue 16): a warning, a snooze, then the cut for an empty kitchen
    guard = out.split("-- the stove guard", 1)[1]
    assert guard.count("WARNING: Front burner shuts off in 1m: nobody in the kitchen") == 2
    assert "$ stove snooze front 5m" in guard
    assert "NOTE: Front burner shut off after 10m with nobody in the kitchen" in guard
    assert out.rstrip().endswith("demo OK: cut confirmed by the relay, flame out, stove usable again")


def test_a_one_shot_command_acts_without_loading_typer_or_python_miio(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Issue 17 item 3: with no daemon, a plain `lock`, `unlock` or `off` acts from the
    entry point, without the full command line's typer or python-miio's protocol and
    construct (~130 ms of its start-up), and is still confirmed by the relay's read-back."""
    sim = miio_relay()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim))
    for args, energised in ((["lock"], True), (["unlock"], False), (["off", "left", "--json"], False)):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gasstove", "-c",
                               str(config), *args], capture_output=True, text=True, timeout=60)
        loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                  if line.startswith("import time:")}
        errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
        assert (done.returncode, errors) == (0, []), args
        assert not loaded & {"typer", "click", "miio", "construct"}, args
        # nor the stove guard's brain (only its configuration models are the file's)
        assert "gasstove.domain.guard" not in loaded, args
        assert sim.device.energised is energised and not sim.burner.lit, args
    assert json.loads(done.stdout)["burners"][0]["restored"] is True


def test_a_one_shot_command_skips_pydantic_plugins_unless_the_user_asks_for_them(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """Issue 17 item 3: the `stove` process builds its configuration models without
    pydantic's scan of every installed distribution for plugins (pydantic's own switch,
    PYDANTIC_DISABLE_PLUGINS), unless the user set that switch; the programs it starts
    (alerts) get the environment as the user set it."""
    site = tmp_path / "site"
    (site / "fakeplugin-1.0.dist-info").mkdir(parents=True)
    (site / "fakeplugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakeplugin\nVersion: 1.0\n")
    (site / "fakeplugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[pydantic]\nfake = fakeplugin_mod:plugin\n")
    marker = tmp_path / "plugin-loaded"
    (site / "fakeplugin_mod.py").write_text(
        "import os, pathlib\n"
        f"pathlib.Path({str(marker)!r}).touch()\n"
        "class _Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = _Plugin()\n")
    seen_env = tmp_path / "alert-env.json"
    alert = tmp_path / "alert.py"
    alert.write_text(f"import json, os, sys\nsys.stdin.read()\n"
                     f"open({str(seen_env)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    sim = miio_relay()
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", sim),
                          burner_yaml("right", None), deadline="0.5s")
    config.write_text(config.read_text()
                      + f"alerts:\n  on_failure: [{sys.executable}, {alert}]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path[:1], str(site),
                                                        os.environ.get("PYTHONPATH", "")])}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)

    def off(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "off"],
                              capture_output=True, text=True, timeout=60, env={**env, **extra})

    done = off({})
    assert done.returncode == 1, done.stderr  # (right's relay is dead: its alert runs)
    assert not sim.burner.lit
    assert not marker.exists()
    assert "PYDANTIC_DISABLE_PLUGINS" not in json.loads(seen_env.read_text())
    done = off({"PYDANTIC_DISABLE_PLUGINS": ""})  # the user's own setting: plugins load
    assert done.returncode == 1, done.stderr
    assert marker.exists()
    assert json.loads(seen_env.read_text())["PYDANTIC_DISABLE_PLUGINS"] == ""
