"""A simulated Xiaomi relay that speaks the real miio protocol on UDP port 54321.

Framing and encryption come from python-miio's own ``miio.protocol.Message``,
so python-miio's clients (``miio.Device``, ``miio.MiotDevice``, ``miiocli``)
talk to it unmodified. Like a real device it answers the unencrypted
handshake with its id and uptime stamp, and silently drops anything that
does not decrypt with its token. Packet loss and latency can be injected.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from ..domain.plan import Wiring
from .burner import Burner

_LOG = logging.getLogger(__name__)
PORT = 54321
HELLO = bytes.fromhex("21310020" + "ff" * 28)

#: What a MIoT method reports for a property the device does not have.
_NO_PROPERTY = -4003


@dataclass
class MiioSimSettings:
    host: str  #: "" = the first free 127.0.0.x, found when the device starts
    token: str
    protocol: Literal["miot", "legacy"] = "miot"
    siid: int = 2
    piid: int = 1
    #: Optional countdown property (siid, piid) counting ``countdown_unit_s`` units.
    countdown: tuple[int, int] | None = None
    countdown_unit_s: float = 60.0
    wiring: Wiring = Wiring.NORMALLY_CLOSED
    energised: bool = False  #: the relay's state at power-up
    loss: float = 0.0  #: probability that any one datagram (in or out) is lost
    latency_s: float = 0.0
    device_id: int = 0x0C0FFEE
    seed: int | None = None

    @property
    def model(self) -> str:
        return "cuco.plug.cp2" if self.protocol == "miot" else "chuangmi.plug.v3"


class MiioSimDevice(asyncio.DatagramProtocol):
    def __init__(
        self,
        settings: MiioSimSettings,
        burner: Burner | None = None,
        *,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.burner = burner
        self.energised = settings.energised
        if burner:
            burner.set_relay(self.energised, settings.wiring)
        self.requests: list[dict[str, Any]] = []  #: every decrypted request, for tests
        self._on_change = on_change
        self._token = bytes.fromhex(settings.token)
        self._rng = random.Random(settings.seed)
        self._boot = time.monotonic()
        self._stamp_base = 1000
        self._countdown_units = 0
        self._countdown: asyncio.TimerHandle | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        """Serve on ``settings.host``; with none given, on the first free 127.0.0.x, which
        ``settings.host`` then names. That address is found by binding it, not by a probe
        before the bind: another process may take a probed address in between."""
        self._loop = asyncio.get_running_loop()
        if self.settings.host:
            await self._loop.create_datagram_endpoint(
                lambda: self, local_addr=(self.settings.host, PORT))
            return
        for host in _loopback_hosts(None):
            try:
                await self._loop.create_datagram_endpoint(lambda: self, local_addr=(host, PORT))
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise
                continue
            self.settings.host = host
            return
        raise RuntimeError("no free 127.0.0.x address for a simulated miio device")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def close(self) -> None:
        if self._countdown:
            self._countdown.cancel()
        if self._transport:
            self._transport.close()

    def restart(self) -> None:
        """Power-cycle: the relay drops to released, the uptime stamp starts again."""
        self._boot = time.monotonic()
        self._stamp_base = self._rng.randrange(10, 500)
        self._set_energised(False, "restarted")

    # -- protocol -------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._lost():
            return
        if data[:4] == HELLO[:4] and len(data) == 32:
            self._reply(self._hello(), addr)
            return
        from miio.protocol import Message

        try:
            message = Message.parse(data, token=self._token)
            request = message.data.value
        except Exception:  # wrong token, garbage: a real device stays silent
            _LOG.debug("%s: dropped an undecryptable datagram", self.settings.host)
            return
        if not isinstance(request, dict) or "id" not in request:
            return
        self.requests.append(request)
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            reply["result"] = self._handle(str(request.get("method")), request.get("params", []))
        except _MethodError as err:
            reply["error"] = {"code": err.code, "message": err.message}
        self._reply(self._encrypt(reply), addr)

    def _handle(self, method: str, params: Any) -> Any:
        s = self.settings
        if method == "miIO.info":
            return {
                "model": s.model, "fw_ver": "1.0.0_sim", "hw_ver": "sim",
                "life": int(time.monotonic() - self._boot),
                "mac": "02:00:00:{:02x}:{:02x}:{:02x}".format(*tuple(s.device_id.to_bytes(3, "big"))),
                "netif": {"localIp": s.host, "mask": "255.0.0.0", "gw": "127.0.0.1"},
                "ap": {"ssid": "gasstove-sim", "rssi": -40},
            }
        if s.protocol == "legacy":
            if method == "set_power" and params in (["on"], ["off"]):
                self._set_energised(params == ["on"], "set_power")
                return ["ok"]
            if method == "get_prop" and isinstance(params, list):
                return ["on" if self.energised else "off" if p == "power" else None for p in params]
        elif method in ("get_properties", "set_properties") and isinstance(params, list):
            return [self._property(method == "set_properties", p) for p in params]
        raise _MethodError(-32601, "Method not found.")

    def _property(self, write: bool, prop: Any) -> dict[str, Any]:
        if not isinstance(prop, dict):
            raise _MethodError(-32602, "Invalid params.")
        s = self.settings
        key = (prop.get("siid"), prop.get("piid"))
        out = {k: prop.get(k) for k in ("did", "siid", "piid")}
        value = prop.get("value")
        if key == (s.siid, s.piid):
            if write:
                if not isinstance(value, bool):
                    return {**out, "code": -4005}
                self._set_energised(value, "set_properties")
            else:
                out["value"] = self.energised
        elif s.countdown and key == s.countdown:
            if write:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    return {**out, "code": -4005}
                self._countdown_units = value
            else:
                out["value"] = self._countdown_units
        else:
            return {**out, "code": _NO_PROPERTY}
        return {**out, "code": 0}

    # -- relay ----------------------------------------------------------------
    def _set_energised(self, energised: bool, why: str) -> None:
        if self._countdown:
            self._countdown.cancel()
            self._countdown = None
        if energised and self._countdown_units and self._loop:
            # The plug's own timer: off after N units, whatever happens to us.
            delay = self._countdown_units * self.settings.countdown_unit_s
            self._countdown = self._loop.call_later(delay, self._countdown_done)
        if energised != self.energised:
            self.energised = energised
            if self.burner:
                self.burner.set_relay(energised, self.settings.wiring)
            if self._on_change:
                self._on_change(f"relay {'energised' if energised else 'released'} ({why})")

    def _countdown_done(self) -> None:
        self._countdown = None
        self._countdown_units = 0
        self._set_energised(False, "countdown")

    # -- wire -------------------------------------------------------------------
    def _lost(self) -> bool:
        return self.settings.loss > 0 and self._rng.random() < self.settings.loss

    def _stamp(self) -> int:
        return self._stamp_base + int(time.monotonic() - self._boot)

    def _hello(self) -> bytes:
        # A provisioned device answers the handshake with 0xff instead of its token.
        return struct.pack(">HHIII", 0x2131, 32, 0, self.settings.device_id, self._stamp()) + b"\xff" * 16

    def _encrypt(self, payload: dict[str, Any]) -> bytes:
        from miio.protocol import Message

        header = {
            "length": 0, "unknown": 0,
            "device_id": self.settings.device_id.to_bytes(4, "big"),
            "ts": datetime.fromtimestamp(self._stamp(), UTC).replace(tzinfo=None),
        }
        message = {"data": {"value": payload}, "header": {"value": header}, "checksum": 0}
        return bytes(Message.build(message, token=self._token))

    def _reply(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._lost() or self._transport is None:
            return
        if self.settings.latency_s and self._loop:
            self._loop.call_later(self.settings.latency_s, self._send, data, addr)
        else:
            self._send(data, addr)

    def _send(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.sendto(data, addr)


class _MethodError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _loopback_hosts(start: int | None) -> Iterator[str]:
    first = start if start is not None else random.randrange(2, 255)
    for last in [*range(first, 255), *range(2, first)]:
        yield f"127.0.0.{last}"


def free_loopback_host(start: int | None = None) -> str:
    """A 127.0.0.x address whose port 54321 is free: python-miio's port is fixed.

    Without ``start`` the search begins at a random address, so several
    simulators started at once (parallel test runs) rarely race for one.
    """
    import socket

    for host in _loopback_hosts(start):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, PORT))
            except OSError:
                continue
        return host
    raise RuntimeError("no free 127.0.0.x address for a simulated miio device")


@contextmanager
def serve_in_thread(*devices: MiioSimDevice) -> Iterator[tuple[MiioSimDevice, ...]]:
    """Run simulated devices on an event loop of their own (for the CLI's and tests' use)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            for device in devices:
                loop.run_until_complete(device.start())
        except BaseException as err:
            failure.append(err)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="miio-sim", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        loop.close()
        raise failure[0]
    try:
        yield devices
    finally:
        def stop() -> None:
            for device in devices:
                device.close()
            # after the transports' own close callbacks: the port is free on return
            loop.call_soon(loop.stop)

        loop.call_soon_threadsafe(stop)
        thread.join(timeout=5)
        loop.close()


def describe_request(request: dict[str, Any]) -> str:
    return json.dumps({k: request.get(k) for k in ("method", "params")})
