"""HACS installs it: the repository as HACS reads it, the release zip `stove ha package`
builds, checked with HACS's, hassfest's and the brands repository's own rules
(ported in hacs_rules.py), and the zip extracted as HACS extracts it setting up
a stove in Home Assistant.

With ``zip_release`` HACS still reads the repository first (hacs.json, and
``custom_components/<domain>/manifest.json`` for the domain and name, brand/icon.png),
then downloads the release asset named by ``filename`` and extracts it *into*
``<config>/custom_components/<domain>/`` (repositories/base.py
``async_download_zip_file``): the zip holds the integration's files at its root.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from awesomeversion import AwesomeVersion

from gasstove.cli.ha import RELEASE_ZIP, integration_source

from . import hacs_rules
from .conftest import ROOT, subprocess_env

DOMAIN = "gasstove"
#: The first Home Assistant with pydantic 2, which the library needs (issue 15 item 1).
MINIMUM_HA = AwesomeVersion("2025.1.0")


def _stove(*args: str) -> subprocess.CompletedProcess[str]:
    stove = ROOT / ".venv" / "bin" / "stove"
    cmd = [str(stove)] if stove.exists() else [sys.executable, "-m", "gasstove"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                          env=subprocess_env(PYTHONPATH=str(ROOT)))


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release asset, built by `stove ha package` under hacs.json's file name."""
    out = tmp_path_factory.mktemp("release") / RELEASE_ZIP
    done = _stove("ha", "package", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def installed(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Home Assistant config directory where HACS has installed the release."""
    config = tmp_path_factory.mktemp("config")
    component = config / "custom_components" / DOMAIN
    component.mkdir(parents=True)
    with zipfile.ZipFile(release) as archive:
        archive.extractall(component)
    return config


def _tree() -> list[str]:
    """The repository's files as GitHub's tree lists them (committed or staged)."""
    done = subprocess.run(["git", "ls-files", "--cached"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def _hacs_json() -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / "hacs.json").read_text("utf-8"))
    return data


def test_hacs_json_is_what_hacs_accepts() -> None:
    data = _hacs_json()
    assert hacs_rules.hacs_json(data) == []
    assert data["zip_release"] is True and data["filename"] == RELEASE_ZIP
    assert AwesomeVersion(str(data["homeassistant"])) >= MINIMUM_HA


def test_the_repository_is_laid_out_as_hacs_reads_it() -> None:
    tree = _tree()
    remote, errors = hacs_rules.hacs_content_path(tree, _hacs_json())
    assert errors == []
    assert remote == f"custom_components/{DOMAIN}"
    assert ROOT / remote == integration_source()  # the tree `stove ha package` zips
    assert hacs_rules.hacs_brands(tree, remote) == []
    assert hacs_rules.hacs_information(tree) == []
    manifest = json.loads((ROOT / remote / "manifest.json").read_text("utf-8"))
    assert hacs_rules.hacs_manifest(manifest) == []
    assert manifest["domain"] == DOMAIN


def test_license_is_the_apache_text_pyproject_names() -> None:
    """HACS takes the license GitHub detects at the root (validate/license.py); GitHub
    (licensee) recognises the verbatim text."""
    assert "LICENSE" in _tree()
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text("utf-8")  # SPDX


def test_the_release_zip_is_the_integration_with_its_library(release: Path) -> None:
    with zipfile.ZipFile(release) as archive:
        names = archive.namelist()
    assert "manifest.json" in names  # at the root: HACS extracts into custom_components/gasstove
    assert not [n for n in names if n.startswith(("custom_components/", f"{DOMAIN}/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    source = integration_source()
    expected = {p.relative_to(source).as_posix() for p in source.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}
    assert expected <= set(names), expected - set(names)
    assert {"brand/icon.png", "lib/gasstove/__init__.py", "lib/gasstove/domain/voice/sentences/en.yaml",
            "lib/gasstove/adapters/miio_relay.py"} <= set(names)


def test_hassfest_rules_hold_for_the_installed_copy(installed: Path) -> None:
    component = installed / "custom_components" / DOMAIN
    services = {"shut_off", "cancel", "lock", "unlock", "snooze", "say"}  # services.py registers these
    errors = [
        *hacs_rules.hassfest_manifest(component),
        *hacs_rules.hassfest_translations(component),
        *hacs_rules.hassfest_services(component, services),
        *hacs_rules.hassfest_icons(component, services),
        *hacs_rules.brand_images(component / "brand"),
    ]
    assert errors == []


def test_the_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    """Each ported check refuses a known-bad input (so a green run means something)."""
    assert hacs_rules.hacs_json({"name": "x", "zip_release": True})
    assert hacs_rules.hacs_json({"name": "x", "domains": ["x"]})
    assert hacs_rules.hacs_content_path(["hass_component/custom_components/x/manifest.json"], {})[1]
    assert hacs_rules.hacs_brands(["custom_components/x/manifest.json"], "custom_components/x")
    assert hacs_rules.hacs_manifest({"domain": "x", "name": "x", "codeowners": [],
                                     "documentation": "https://x.org", "issue_tracker": "https://x.org"})
    component = tmp_path / DOMAIN
    component.mkdir()
    (component / "manifest.json").write_text(json.dumps(
        {"domain": DOMAIN, "name": "x", "version": "1", "iot_class": "local_polling",
         "codeowners": [], "documentation": "https://x.org"}))
    assert hacs_rules.hassfest_manifest(component)  # keys not sorted
    (component / "strings.json").write_text(json.dumps(
        {"config": {"step": {"user": {"data": {"a": "A"}, "data_description": {"b": "B"}}}}}))
    assert hacs_rules.hassfest_translations(component)
    (component / "services.yaml").write_text("shut_off:\n  fields:\n    x:\n      selector:\n        nope:\n")
    assert hacs_rules.hassfest_services(component, {"shut_off"})
    (component / "icons.json").write_text(json.dumps({"services": {"shut_off": "mdi:fire-off"}}))
    assert hacs_rules.hassfest_icons(component, {"shut_off"})
    brand = component / "brand"
    brand.mkdir()
    (brand / "icon.png").write_bytes((integration_source() / "brand" / "icon@2x.png").read_bytes())
    assert hacs_rules.brand_images(brand)  # 512 px under the 256 px name


# Run by Home Assistant's own Python in a fresh process that sees only the installed copy
# (no PYTHONPATH to this checkout): the integration and its vendored library, set up on the
# harness with a simulated relay of that same vendored library.
INSTALLED_TEST = '''
import os, sys
CONFIG = os.environ["GASSTOVE_HA_CONFIG"]
sys.path.insert(0, CONFIG)

import pytest, pytest_socket
from pytest_homeassistant_custom_component.common import MockConfigEntry
from custom_components.gasstove.const import DOMAIN
import gasstove
from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings, free_loopback_host, serve_in_thread

TOKEN = "00112233445566778899aabbccddeeff"


@pytest.fixture(autouse=True)
def custom(enable_custom_integrations, socket_enabled):
    pytest_socket.socket_allow_hosts([f"127.0.0.{i}" for i in range(1, 255)], allow_unix_socket=True)


async def test_a_stove_sets_up_and_cuts(hass):
    assert gasstove.__file__.startswith(os.path.join(CONFIG, "custom_components", DOMAIN, "lib"))
    clock = [0.0]
    burner = Burner("left", clock=lambda: clock[0])
    burner.push_and_turn()
    clock[0] += 5
    burner.release()
    device = MiioSimDevice(MiioSimSettings(free_loopback_host(start=2), TOKEN,
                                           wiring=Wiring.NORMALLY_CLOSED, energised=False), burner)
    with serve_in_thread(device):
        entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="u", data={
            "name": "Kitchen", "deadline": 1.0, "burners": {"left": {
                "wiring": "normally_closed", "cut_seconds": 1.0, "relay": {
                    "type": "miio", "host": device.settings.host, "token": TOKEN,
                    "protocol": "miot"}}}})
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await hass.services.async_call("button", "press",
                                       {"entity_id": "button.kitchen_left_shut_off_now"}, blocking=True)
        assert not burner.lit
        assert await hass.config_entries.async_unload(entry.entry_id)
'''


def test_the_extracted_release_sets_up_a_stove_in_home_assistant(installed: Path, tmp_path: Path) -> None:
    test_file = tmp_path / "test_installed.py"
    test_file.write_text(INSTALLED_TEST, "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
         "-o", "asyncio_default_fixture_loop_scope=function", "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=subprocess_env(GASSTOVE_HA_CONFIG=str(installed)))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
