"""A real Home Assistant, its real frontend in headless Chromium, and simulated relays.

* Home Assistant 2025.4.4 runs as ``hass -c <tmp dir>`` on a free loopback port,
  with ``custom_components/gasstove`` of this checkout linked into the config
  directory and the library on PYTHONPATH (as a checkout install does).
* Onboarding goes through HA's own onboarding HTTP API, as the frontend's
  onboarding pages call it: the owner is created (with the language a person
  picks on the first page), then the core config, analytics and integration
  steps; the last step's auth code is handed to the frontend on its
  ``auth_callback`` URL, exactly where HA's onboarding page sends the browser.
* The browser is Debian's chromium driven by Playwright's Python client
  (``executable_path``: Playwright downloads no browser).
* The relays are the library's miio simulator on 127.0.0.x, each wired to a
  lit simulated burner: "the flame went out" is a fact of the model.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gasstove.domain.plan import Wiring  # noqa: E402
from gasstove.sim.miio_device import (  # noqa: E402
    MiioSimDevice,
    MiioSimSettings,
    free_loopback_host,
    serve_in_thread,
)
from tests.fixtures_miio import TOKEN, SimRelay, lit_burner  # noqa: E402  (the library tests')

log = logging.getLogger("browser")
#: Where the screenshots go: build/browser/ (ignored by git), or docs/images/ to refresh the
#: docs' pictures (``GASSTOVE_BROWSER_IMAGES=docs/images bash scripts/test-browser``).
IMAGES = ROOT / os.environ.get("GASSTOVE_BROWSER_IMAGES", "build/browser")
#: The checkout whose integration and library Home Assistant runs: this one, or an older
#: one exported elsewhere to see what a person saw before a change ("before" pictures).
SOURCE = Path(os.environ.get("GASSTOVE_BROWSER_SOURCE", ROOT)).resolve()
BOOT_TIMEOUT_S = 240.0


@pytest.fixture
def miio_relays() -> Iterator[Callable[[str], SimRelay]]:
    """Factory: a simulated miio relay (normally closed) with a lit burner, on a free 127.0.0.x."""
    stack = contextlib.ExitStack()
    used = [1]

    def start(name: str) -> SimRelay:
        burner = lit_burner(name)
        host = free_loopback_host(start=used[-1] + 1)
        used.append(int(host.rsplit(".", 1)[1]))
        device = MiioSimDevice(MiioSimSettings(host, TOKEN, wiring=Wiring.NORMALLY_CLOSED,
                                               energised=False), burner)
        stack.enter_context(serve_in_thread(device))
        return SimRelay(device, burner)

    with stack:
        yield start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Hass:
    """A running Home Assistant, onboarded; ``auth_code`` logs the frontend in once."""

    url: str
    config_dir: Path
    process: subprocess.Popen[bytes]
    access_token: str
    auth_code: str
    language: str
    log_path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def client_id(self) -> str:
        return f"{self.url}/"

    def callback_url(self) -> str:
        """Where HA's onboarding page sends the browser after its last step."""
        state = base64.b64encode(json.dumps({"hassUrl": self.url, "clientId": self.client_id})
                                 .encode()).decode()
        return f"{self.url}/?auth_callback=1&code={self.auth_code}&state={state}&storeToken=true"

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _request(url: str, *, data: dict[str, Any] | None = None, form: bool = False,
             token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers,
                                     method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


CONFIGURATION = """\
homeassistant:
  name: Home
  language: {language}
  country: {country}
  time_zone: {time_zone}
  unit_system: metric
  currency: CNY
http:
  server_host: 127.0.0.1
  server_port: {port}
frontend:
config:
logger:
  default: warning
  logs:
    custom_components.gasstove: info
"""


def _boot(tmp: Path, language: str) -> Hass:
    config_dir = tmp / f"hass-{language}"
    (config_dir / "custom_components").mkdir(parents=True)
    (config_dir / "custom_components" / "gasstove").symlink_to(SOURCE / "custom_components" / "gasstove")
    port = free_port()
    (config_dir / "configuration.yaml").write_text(CONFIGURATION.format(
        language=language, port=port, country="CN" if language.startswith("zh") else "GB",
        time_zone="Asia/Shanghai"))
    log_path = config_dir / "hass.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    env["PYTHONPATH"] = str(SOURCE)
    hass_bin = Path(sys.executable).parent / "hass"
    log.info("starting Home Assistant (%s) on 127.0.0.1:%d, config %s", language, port, config_dir)
    with log_path.open("wb") as out:
        process = subprocess.Popen([str(hass_bin), "-c", str(config_dir), "--skip-pip"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        if process.poll() is not None:
            raise AssertionError(f"Home Assistant exited ({process.returncode}):\n"
                                 + log_path.read_text(errors="replace")[-4000:])
        try:
            steps = _request(f"{url}/api/onboarding")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() - started > BOOT_TIMEOUT_S:
                process.terminate()
                raise AssertionError(f"Home Assistant did not answer within {BOOT_TIMEOUT_S:.0f} s:\n"
                                     + log_path.read_text(errors="replace")[-4000:]) from None
            time.sleep(0.5)
    log.info("Home Assistant answers after %.1f s; onboarding steps: %s",
             time.monotonic() - started, [s["step"] for s in steps])
    client_id = f"{url}/"
    user = _request(f"{url}/api/onboarding/users", data={
        "client_id": client_id, "name": "Owner", "username": "owner",
        "password": "browser-test-owner", "language": language})
    tokens = _request(f"{url}/auth/token", form=True, data={
        "grant_type": "authorization_code", "code": user["auth_code"], "client_id": client_id})
    token = tokens["access_token"]
    _request(f"{url}/api/onboarding/core_config", data={}, token=token)
    _request(f"{url}/api/onboarding/analytics", data={}, token=token)
    integration = _request(f"{url}/api/onboarding/integration", token=token, data={
        "client_id": client_id, "redirect_uri": f"{url}/?auth_callback=1"})
    log.info("onboarding done (owner, core config, analytics, integration)")
    return Hass(url, config_dir, process, token, integration["auth_code"], language, log_path)


@pytest.fixture
def boot_hass(tmp_path: Path) -> Iterator[Callable[[str], Hass]]:
    """Factory: a fresh Home Assistant onboarded in ``language`` (its owner's and the system's)."""
    running: list[Hass] = []

    def boot(language: str) -> Hass:
        hass = _boot(tmp_path, language)
        running.append(hass)
        return hass

    yield boot
    for hass in running:
        hass.process.terminate()
        try:
            hass.process.wait(30)
        except subprocess.TimeoutExpired:
            hass.process.kill()
            hass.process.wait()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright; no browser is downloaded. Fails (never skips)
    when it cannot start, saying why."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("GASSTOVE_CHROMIUM") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail(f"no chromium at {executable}: run scripts/test-browser (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        log.info("browser: %s %s", executable, browser.version)
        yield browser
        browser.close()
