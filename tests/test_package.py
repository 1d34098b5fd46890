"""The package people install: one version everywhere, what the wheel holds, and a fresh
venv that runs `stove demo` from the built wheel."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import gasstove
from gasstove.cli.ha import RELEASE_ZIP

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
MANIFEST = json.loads((ROOT / "custom_components/gasstove/manifest.json").read_text())


def stove(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gasstove", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def test_one_version_for_the_library_the_integration_and_the_cli() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "version" in PYPROJECT["dynamic"] and "version" not in PYPROJECT
    assert setuptools["dynamic"]["version"] == {"attr": "gasstove.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", gasstove.__version__)
    assert MANIFEST["version"] == gasstove.__version__
    for args in (["--version"], ["-c", "/nowhere/gasstove.yaml", "--version"]):  # fast, full
        done = stove(*args)
        assert (done.returncode, done.stdout, done.stderr) == (
            0, f"stove (gasstove) {gasstove.__version__}\n", "")


def test_the_integration_requires_what_the_library_does_and_hacs_finds_its_zip() -> None:
    """Home Assistant installs the manifest's requirements for the vendored library: the
    same lines as pyproject's, so neither drifts from the other (only those the library
    needs inside Home Assistant: python-miio serves the simulator, see test_imports)."""
    assert set(MANIFEST["requirements"]) <= set(PYPROJECT["dependencies"])
    names = {re.split(r"[<>=!~ \[]", r)[0].lower() for r in MANIFEST["requirements"]}
    assert "pydantic" in names
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["filename"] == RELEASE_ZIP and hacs["zip_release"] is True


def test_the_package_says_its_license_and_caps_nothing_for_another_tool() -> None:
    assert PYPROJECT["license"] == "Apache-2.0" and PYPROJECT["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert {"Homepage", "Issues", "Source"} <= set(PYPROJECT["urls"])
    assert "Typing :: Typed" in PYPROJECT["classifiers"]
    click = [d for d in PYPROJECT["dependencies"] if d.startswith("click")]
    assert click == ["click>=8.1"], "miiocli's click<8.2 is the bench's own venv's business"


def test_help_says_the_exit_codes() -> None:
    done = stove("--help", COLUMNS="200")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert ("Exit codes: 0 done and confirmed; 1 the stove or a device did not confirm (the "
            "action may not have happened); 2 usage or configuration error (nothing was sent "
            "to a stove); 130 interrupted.") in text


def test_shell_completion_completes_commands(tmp_path: Path) -> None:
    """The shell calls `stove` itself with _STOVE_COMPLETE set (typer's completion)."""
    script = tmp_path / "stove"
    script.write_text(f"#!{sys.executable}\nfrom gasstove.cli.fast import main\nmain()\n")
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # (typer asks which shell runs it: bash, kept from exec'ing the script by the `; true`)
    done = subprocess.run(["bash", "-c", f"{script} --show-completion; true"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and "complete -o default -F _stove_completion stove" in done.stdout
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=60, env={
        **env, "_STOVE_COMPLETE": "complete_bash", "COMP_WORDS": "stove s", "COMP_CWORD": "1"})
    assert done.returncode == 0
    assert set(done.stdout.split()) == {"status", "snooze", "serve", "say", "sim"}


def _wheelhouse() -> Path:
    """Where the dependencies' wheels are kept between runs, so a later run installs offline."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gasstove" / "test-wheels"


def _run(argv: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=900, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv[:4]}... exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


@pytest.mark.timeout(1200)
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    """Built as a user's `python -m build` would (the wheel from the sdist), installed with
    pip into a venv of its own, run from there with no checkout on the path."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".mypy_cache", ".ruff_cache"))
    tools = tmp_path / "tools"
    venv.create(tools, with_pip=True)
    wheels = _wheelhouse()
    wheels.mkdir(parents=True, exist_ok=True)
    pip = ["-m", "pip", "install", "-q", "--disable-pip-version-check"]
    offline = ["--no-index", "--find-links", wheels]
    if subprocess.run([tools / "bin/python", *pip, *offline, "build", "setuptools>=77"],
                      capture_output=True).returncode != 0:
        _run([tools / "bin/python", "-m", "pip", "wheel", "-q", "-w", wheels, "build",
              "setuptools>=77"])
        _run([tools / "bin/python", *pip, *offline, "build", "setuptools>=77"])
    dist = tmp_path / "dist"
    # (no isolation: the build tools above, from the wheelhouse)
    _run([tools / "bin/python", "-m", "build", "--no-isolation", "--outdir", dist, source])
    [wheel] = dist.glob("gasstove-*.whl")
    [sdist] = dist.glob("gasstove-*.tar.gz")
    assert wheel.name == f"gasstove-{gasstove.__version__}-py3-none-any.whl"
    assert sdist.name == f"gasstove-{gasstove.__version__}.tar.gz"

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gasstove/py.typed" in names
    grammar = {n for n in names if n.startswith("gasstove/domain/voice/") and n.endswith(".yaml")}
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "gasstove/domain/voice").rglob("*.yaml")}
    assert grammar == shipped and grammar
    info = f"gasstove-{gasstove.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: click>=8.1\n" in metadata

    user = tmp_path / "user"
    venv.create(user, with_pip=True)
    install = [user / "bin/python", *pip, *offline, "--find-links", dist, f"{wheel}[voice]"]
    if subprocess.run(install, capture_output=True).returncode != 0:  # first run: fetch them
        _run([user / "bin/python", "-m", "pip", "wheel", "-q", "-w", wheels, f"{wheel}[voice]"])
        for ours in wheels.glob("gasstove-*"):
            ours.unlink()  # (only the dependencies are kept)
        _run(install)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["GASSTOVE_STATE_DIR"] = str(tmp_path / "state")
    where = _run([user / "bin/python", "-c", "import gasstove; print(gasstove.__file__)"],
                 env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(user)), "the installed copy, not the checkout"
    done = _run([user / "bin/stove", "--version"], env=env, cwd=tmp_path)
    assert done.stdout == f"stove (gasstove) {gasstove.__version__}\n"
    done = _run([user / "bin/stove", "parse", "二十分钟后关火", "--json"], env=env, cwd=tmp_path)
    assert json.loads(done.stdout) == {"intent": "shut_off", "delay_s": 1200, "burner": None}
    done = _run([user / "bin/stove", "demo", "--cut-seconds", "1"], env=env, cwd=tmp_path)
    assert "demo OK: cut confirmed by the relay" in done.stdout


def test_a_long_install_step_says_it_is_still_going() -> None:
    """scripts/test and scripts/test-ha install for minutes on a first run: never silently."""
    done = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source scripts/progress.sh; '
         'PROGRESS_EVERY=1 progress "installing the harness" sleep 2.4; '
         'progress "failing" bash -c "exit 3"; echo not reached'],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    assert done.returncode == 3 and done.stdout == ""
    assert lines[0] == "installing the harness..."
    still = [re.fullmatch(r"  \.\.\. still installing the harness \((\d) s\)", line)
             for line in lines[1:-3]]
    assert len(still) >= 2 and all(still), lines  # (every second or so, on a busy machine)
    assert re.fullmatch(r"  done: installing the harness \(\d s\)", lines[-3])
    assert lines[-2] == "failing..." and lines[-1].startswith("  FAILED: failing (exit 3 after ")
    for script in ("scripts/test-ha", "scripts/setup-venv"):
        text = (ROOT / script).read_text().splitlines()
        installs = [n for n, line in enumerate(text) if re.search(r"pip\"? install", line)]
        assert installs, script
        for n in installs:  # on a progress line, or continuing one
            assert "progress " in text[n] or ("progress " in text[n - 1]
                                              and text[n - 1].endswith("\\")), text[n]
