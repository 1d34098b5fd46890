"""Fixtures: Home Assistant's test harness plus simulated miio relays on real UDP.

The relays are the library's simulator (``gasstove.sim``): a real miio peer on
127.0.0.x:54321 wired to a simulated burner, so "the flame went out" is a
physical fact of the model, not a mock's call count. pytest-homeassistant
disables sockets for every test; the simulator needs them (``loopback_sockets``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import pytest_socket
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # custom_components.gasstove

from custom_components.gasstove.const import DOMAIN  # noqa: E402

from gasstove.domain.plan import Wiring  # noqa: E402
from gasstove.sim.burner import Burner  # noqa: E402
from gasstove.sim.miio_device import (  # noqa: E402
    MiioSimDevice,
    MiioSimSettings,
    free_loopback_host,
    serve_in_thread,
)

TOKEN = "00112233445566778899aabbccddeeff"
DEAD_HOST = "127.0.0.254"  # nothing listens there: a relay that never answers


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no PYTHONPATH to this checkout, and no
    pytest-cov variables (a child measured with other settings breaks the combined data)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("COV_CORE_")}
    return {**env, **extra}


@pytest.fixture
def config_dir(tmp_path: Path) -> Iterator[Path]:
    """Home Assistant's configuration directory, one per test: the integration keeps its
    burners' records in ``.storage`` there, and the harness's own directory lies inside the
    installed package, shared by every test and every run (a lock would leak between them)."""
    from pytest_homeassistant_custom_component import common

    with patch.object(common, "get_test_config_dir", lambda *parts: str(tmp_path.joinpath(*parts))):
        yield tmp_path


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(config_dir: Path, enable_custom_integrations: None) -> None:
    """Load custom_components/gasstove in every test (``hass`` made in ``config_dir``:
    ``enable_custom_integrations`` asks for it, so the directory must come first)."""


@pytest.fixture
def freezer(request: pytest.FixtureRequest) -> Iterator[FrozenDateTimeFactory]:
    """Home Assistant's clock frozen (``tick`` moves it); the library keeps real time.

    freezegun's ``time.monotonic`` answers frozen or real time depending on who
    calls (real when one of the caller's 5 nearest frames is an ignored module,
    e.g. ``threading``), and the library binds its clock at import (``Stove``'s
    and ``MiioRelay``'s default arguments). A test that first imported the library
    under ``freezer`` (run alone; ``-k``) bound that function: in the miio
    driver's worker thread a try's end was then taken on the real clock and
    compared with the frozen one, so every try ended at once ("no answer ...
    (6787 tries)") and the Stove's deadline, frozen, never passed. With
    ``gasstove.`` ignored, the miio driver, the Stove's deadlines and the
    simulators read the real clocks whenever they were imported, as they do in
    Home Assistant (where a wall-clock jump moves neither their monotonic clock
    nor their deadlines). The same as pytest-freezer's fixture otherwise.
    """
    marker = request.node.get_closest_marker("freeze_time")
    with freeze_time(*getattr(marker, "args", ()), ignore=["gasstove."],
                     **getattr(marker, "kwargs", {})) as factory:
        yield factory


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshot format and ``snapshots/`` folder, as core's conftest sets it.

    The harness's plugin defines this fixture too, but syrupy's own plugin is
    registered after it and wins (harness 0.13.236); a conftest fixture beats both.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def instant_pulse() -> Iterator[None]:
    """A cut holds the loop open for cut_seconds; tests do not wait for it."""
    async def no_wait(seconds: float) -> None:
        return None

    from custom_components.gasstove import config_flow, coordinator

    # A dead relay costs the probe's whole deadline: 1 s is enough on loopback.
    with patch.object(coordinator, "async_pulse_wait", no_wait), \
            patch.object(config_flow, "PROBE_DEADLINE_S", 1.0):
        yield


@pytest.fixture
def loopback_sockets(socket_enabled: None) -> None:
    """Sockets, to any loopback address (the harness allows ``connect()`` to 127.0.0.1 only).

    The miio simulators listen on 127.0.0.x (the miio port is fixed, docs/design.md §5)
    and the miio driver connects its UDP socket, so that a reply from any other
    address is never taken for the device's. Called after ``socket_enabled``
    has put the real socket class back, so the rule lands on that class.
    """
    pytest_socket.socket_allow_hosts([f"127.0.0.{i}" for i in range(1, 255)],
                                     allow_unix_socket=True)


@dataclass
class SimRelay:
    device: MiioSimDevice
    burner: Burner
    clock: list[float]

    @property
    def host(self) -> str:
        return self.device.settings.host

    @property
    def lit(self) -> bool:
        return self.burner.lit


@pytest.fixture
def miio_relay(loopback_sockets: None) -> Iterator[Callable[..., SimRelay]]:
    """Factory: a simulated relay with a lit burner on a free loopback address."""
    stack = contextlib.ExitStack()
    used: list[str] = []

    def start(name: str = "left", **settings: Any) -> SimRelay:
        wiring = settings["wiring"] = Wiring(settings.get("wiring", Wiring.NORMALLY_CLOSED))
        settings.setdefault("energised", wiring is Wiring.NORMALLY_OPEN)
        clock = [0.0]
        burner = Burner(name, clock=lambda: clock[0])
        burner.push_and_turn()
        clock[0] += 5
        burner.release()
        token = settings.pop("token", TOKEN)
        for attempt in range(5):
            host = free_loopback_host(start=int(used[-1].rsplit(".", 1)[1]) + 1 if used else 2)
            used.append(host)
            device = MiioSimDevice(MiioSimSettings(host, token, **settings), burner)
            try:
                stack.enter_context(serve_in_thread(device))
            except OSError as err:
                # Taken between the probe and the bind by another test run on this machine.
                if err.errno != errno.EADDRINUSE or attempt == 4:
                    raise
                continue
            return SimRelay(device, burner, clock)
        raise AssertionError("unreachable")

    with stack:
        yield start


def miio_burner(host: str, *, wiring: str = "normally_closed", cut_seconds: float = 1.0,
                token: str = TOKEN) -> dict[str, Any]:
    return {"wiring": wiring, "cut_seconds": cut_seconds,
            "relay": {"type": "miio", "host": host, "token": token, "protocol": "miot"}}


def entry_data(burners: dict[str, dict[str, Any]], *, name: str = "Kitchen",
               deadline: float = 1.0) -> dict[str, Any]:
    return {"name": name, "deadline": deadline, "burners": burners}


async def set_up_stove(hass: HomeAssistant, burners: dict[str, Any],
                       **entry: Any) -> MockConfigEntry:
    """A stove "Kitchen" with these burners, set up; ``entry``: more of its MockConfigEntry
    (entry_id, options...)."""
    config_entry = MockConfigEntry(domain=DOMAIN, title="Kitchen", unique_id="kitchen-uid",
                                   data=entry_data(burners), **entry)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
async def stove(hass: HomeAssistant, miio_relay: Any) -> tuple[MockConfigEntry, SimRelay, SimRelay]:
    """Two burners: left normally closed, right normally open."""
    left, right = miio_relay("left"), miio_relay("right", wiring="normally_open")
    entry = await set_up_stove(hass, {"left": miio_burner(left.host),
                                      "right": miio_burner(right.host, wiring="normally_open")})
    return entry, left, right
