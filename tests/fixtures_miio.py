"""Simulated miio relays on real UDP sockets (127.0.0.x:54321), wired to burner models."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.miio_device import (
    MiioSimDevice,
    MiioSimSettings,
    free_loopback_host,
    serve_in_thread,
)

TOKEN = "00112233445566778899aabbccddeeff"


@dataclass
class SimRelay:
    device: MiioSimDevice
    burner: Burner

    @property
    def host(self) -> str:
        return self.device.settings.host

    @property
    def token(self) -> str:
        return self.device.settings.token


def lit_burner(name: str) -> Burner:
    """A burner burning steadily with a warm thermocouple, on its own frozen clock."""
    clock = [0.0]
    burner = Burner(name, clock=lambda: clock[0])
    burner.push_and_turn()
    clock[0] += 5  # long enough for the thermocouple to hold the valve
    burner.release()
    return burner


@pytest.fixture
def miio_relay() -> Iterator[Callable[..., SimRelay]]:
    """Factory: start a simulated relay (lit burner) on a free loopback address."""
    stack = contextlib.ExitStack()

    def start(name: str = "left", **settings: Any) -> SimRelay:
        wiring = settings["wiring"] = Wiring(settings.get("wiring", Wiring.NORMALLY_CLOSED))
        settings.setdefault("energised", wiring is Wiring.NORMALLY_OPEN)
        token = settings.pop("token", TOKEN)
        burner = lit_burner(name)
        device = MiioSimDevice(MiioSimSettings(free_loopback_host(), token, **settings), burner)
        stack.enter_context(serve_in_thread(device))
        return SimRelay(device, burner)

    with stack:
        yield start


def burner_yaml(name: str, relay: SimRelay | None, *, host: str | None = None,
                token: str | None = None, wiring: str = "normally_closed",
                protocol: str = "miot", cut_seconds: str = "1s", extra: str = "") -> str:
    host = host or (relay.host if relay else "127.0.0.254")
    token = token or (relay.token if relay else TOKEN)
    return (
        f"    {name}:\n"
        f"      wiring: {wiring}\n"
        f"      cut_seconds: {cut_seconds}\n"
        f"{extra}"
        f"      relay:\n"
        f"        type: miio\n"
        f"        host: {host}\n"
        f"        token: {token}\n"
        f"        protocol: {protocol}\n"
    )


def write_config(path: Path, *burners: str, deadline: str = "2s") -> Path:
    path.write_text(f"stove:\n  name: test\n  deadline: {deadline}\n  burners:\n" + "".join(burners))
    path.chmod(0o600)  # it holds tokens: readable by others, every command warns
    return path


def random_token() -> str:
    return secrets.token_hex(16)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def stove(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the `stove` command in-process, through its entry point: (exit code, stdout,
    stderr)."""
    from gasstove.cli.fast import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            main(list(args))
        captured = capsys.readouterr()
        code = done.value.code
        return (code if isinstance(code, int) else 0), captured.out, captured.err

    return run
