"""Xiaomi miio relays over python-miio, with a deadline instead of 5 s × 3 retries.

python-miio's ``send()`` retries the same request and does not check reply
ids (DESIGN.md §5), so we only ever send idempotent sets, confirm by reading
back, and run our own retry loop: a short timeout per try, bounded by the
caller's overall deadline. Its blocking calls run in worker threads so that
several burners are cut at the same time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import socket
import sys
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..domain.errors import RelayRefused, RelayUnreachable, TokenRejected, Unconfirmed

if TYPE_CHECKING:
    from ..domain.config import MiioRelayConfig


def _bare_miio_package() -> None:
    """Let ``miio.miioprotocol`` be imported without running ``miio/__init__.py`` first.

    That file imports every device class python-miio has: about 300 ms, most
    of a one-shot ``stove off``, for a protocol that needs three small
    modules. The package module is registered bare and runs its own
    ``__init__`` the first time anyone asks it for a name it lacks (a module
    ``__getattr__``, PEP 562), so ``import miio; miio.MiotDevice`` elsewhere in
    the process works as usual and every module exists once.
    """
    if "miio" in sys.modules:
        return
    spec = importlib.util.find_spec("miio")
    if spec is None or spec.loader is None:
        return  # not installed: the import below says so
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader
    finishing = threading.Lock()

    def finish(name: str) -> Any:
        with finishing:
            if package.__dict__.pop("__getattr__", None) is not None:
                loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = finish  # type: ignore[method-assign]
    sys.modules["miio"] = package


_bare_miio_package()
from miio.exceptions import DeviceError, DeviceException  # noqa: E402  (after the bare package)
from miio.miioprotocol import MiIOProtocol  # noqa: E402
from miio.protocol import Message  # noqa: E402

_LOG = logging.getLogger(__name__)
# python-miio logs each lost datagram at ERROR; our retries are expected and
# the driver reports the final result itself, as one line.
logging.getLogger("miio.miioprotocol").setLevel(logging.CRITICAL)

#: Per-try timeout: a LAN relay answers in milliseconds; a lost datagram
#: should cost a fraction of the deadline, not python-miio's 5 s.
PER_TRY_S = 0.5
#: Pause between read-backs while waiting for the contact to report a change.
POLL_S = 0.05


class MiioRelay:
    def __init__(self, config: MiioRelayConfig, *, per_try: float = PER_TRY_S) -> None:
        self.config = config
        self._per_try = per_try
        # python-miio's protocol object keeps ids and the device stamp: one
        # request at a time.
        self._guard = threading.Lock()
        self._proto = _Protocol(config.host, config.token.get_secret_value())

    def describe(self) -> str:
        return self.config.describe()

    async def identify(self, *, deadline: float) -> str:
        info = await self._call("miIO.info", [], deadline)
        if not isinstance(info, dict):
            raise RelayRefused(f"{self.config.host} sent an unreadable miIO.info reply")
        return f"{info.get('model', '?')} firmware {info.get('fw_ver', '?')}"

    async def read(self, *, deadline: float) -> bool:
        host = self.config.host
        if self.config.protocol == "legacy":
            reply = await self._call("get_prop", ["power"], deadline)
            if isinstance(reply, list) and reply and reply[0] in ("on", "off"):
                return bool(reply[0] == "on")
            raise RelayRefused(f"{host} sent an unreadable power state")
        reply = await self._call("get_properties", [self._prop(self.config.siid, self.config.piid)],
                                 deadline)
        try:
            (prop,) = reply
            if prop.get("code", 0) != 0:
                raise RelayRefused(f"{host} cannot read siid {self.config.siid} "
                                   f"piid {self.config.piid} (code {prop.get('code')})")
            value = prop["value"]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise RelayRefused(f"{host} sent an unreadable property reply") from None
        if not isinstance(value, bool | int):
            raise RelayRefused(f"{host} reports a non-boolean relay value")
        return bool(value)

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        countdown = self.config.countdown
        if pulse_seconds is not None and countdown is not None and energised:
            # Arm the device's own timer first, so the cut that follows ends by
            # itself even if we die; we still restore on time ourselves.
            units = max(1, math.ceil(pulse_seconds / countdown.unit_seconds))
            await self._set_properties([(countdown.siid, countdown.piid, units)], deadline)
        if self.config.protocol == "legacy":
            reply = await self._call("set_power", ["on" if energised else "off"], deadline)
            if reply != ["ok"]:
                raise RelayRefused(f"{self.config.host} did not accept set_power")
            return
        await self._set_properties([(self.config.siid, self.config.piid, energised)], deadline)

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        seen: bool | None = None
        while True:
            seen = await self.read(deadline=deadline)
            if seen == energised:
                return
            if time.monotonic() + POLL_S >= deadline:
                break
            await asyncio.sleep(POLL_S)
        state = "energised" if seen else "released"
        raise Unconfirmed(f"{self.config.host} still reports the relay {state}")

    async def close(self) -> None:
        return None

    @staticmethod
    def _prop(siid: int, piid: int, value: Any = None) -> dict[str, Any]:
        prop: dict[str, Any] = {"did": f"gasstove-{siid}-{piid}", "siid": siid, "piid": piid}
        if value is not None:
            prop["value"] = value
        return prop

    async def _set_properties(self, props: list[tuple[int, int, Any]], deadline: float) -> None:
        reply = await self._call("set_properties", [self._prop(*p) for p in props], deadline)
        try:
            codes = [item.get("code", 0) for item in reply]
        except (TypeError, AttributeError):
            raise RelayRefused(f"{self.config.host} sent an unreadable set reply") from None
        if len(codes) != len(props) or any(codes):
            raise RelayRefused(f"{self.config.host} refused the property write (codes {codes})")

    async def _call(self, method: str, params: Any, deadline: float) -> Any:
        return await asyncio.to_thread(self._call_blocking, method, params, deadline)

    def _call_blocking(self, method: str, params: Any, deadline: float) -> Any:
        host = self.config.host
        tries = 0
        checksum_errors = 0
        answered_before = self._proto.handshakes_answered
        with self._guard:
            while (remaining := deadline - time.monotonic()) > 0.01:
                tries += 1
                # python-miio annotates the timeout as int; its socket takes float
                self._proto._timeout = min(self._per_try, remaining)  # type: ignore[assignment]
                try:
                    return self._proto.send(method, params, retry_count=0)
                except DeviceError as err:
                    code = err.args[0].get("code") if err.args and isinstance(err.args[0], dict) else "?"
                    raise RelayRefused(f"{host} refused {method} (error code {code})") from None
                except DeviceException as err:
                    if "checksum" in str(err).lower():
                        checksum_errors += 1
                    # The device may have restarted (new stamp): handshake again.
                    self._proto._discovered = False
                    _LOG.debug("%s: try %d of %s failed: %s", host, tries, method, type(err).__name__)
                except OSError as err:  # unroutable address, no network
                    raise RelayUnreachable(f"cannot reach {host}: {err.strerror or err}") from None
        if checksum_errors or (self._proto.handshakes_answered > answered_before and tries >= 2):
            raise TokenRejected(
                f"token rejected by {host}: it answers the handshake but not our "
                "commands (check the token)"
            )
        raise RelayUnreachable(f"no answer from {host} within the deadline ({tries} tries)")



class _Protocol(MiIOProtocol):
    """python-miio's protocol, one try at a time, taking only the device's own answer.

    Its own handshake waits a fixed 5 s, three times: a dead relay must cost
    one of our short tries instead. Its ``send`` takes the first datagram to
    reach its socket, from any address, and never compares reply ids: a
    datagram from elsewhere, or a late answer to an earlier try, would then
    be read as the relay's state and could "confirm" a cut that never
    happened; an undecodable one escapes as a raw ``construct`` error.
    """

    def __init__(self, host: str, token: str) -> None:
        super().__init__(host, token, timeout=1)
        self.handshakes_answered = 0

    def send_handshake(self, *, retry_count: int = 0) -> Any:
        reply = self.discover(self.ip, timeout=self._timeout)
        if reply is None:
            raise DeviceException(f"no handshake reply from {self.ip}")
        header = reply.header.value
        self._device_id = header.device_id
        self._device_ts = header.ts
        self._discovered = True
        self.handshakes_answered += 1
        return reply

    def send(self, command: str, parameters: Any = None, retry_count: int = 0, *,
             extra_parameters: dict[str, Any] | None = None) -> Any:
        """One try; our caller retries (``retry_count`` is python-miio's and unused)."""
        if not self._discovered:
            self.send_handshake()
        request = self._create_request(command, parameters, extra_parameters or {})
        header = {"length": 0, "unknown": 0, "device_id": self._device_id,
                  "ts": self._device_ts + timedelta(seconds=1)}
        datagram = Message.build({"data": {"value": request}, "header": {"value": header},
                                  "checksum": 0}, token=self.token)
        undecodable = 0
        end = time.monotonic() + self._timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            # connected: the kernel drops datagrams from any other address or port
            sock.connect((self.ip, self.port))
            sock.send(datagram)
            while (left := end - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    break
                try:
                    reply = Message.parse(data, token=self.token)
                    payload = reply.data.value
                except Exception:  # construct raises many kinds on a bad datagram
                    undecodable += 1
                    continue
                if not isinstance(payload, dict) or payload.get("id") != request["id"]:
                    continue  # a late answer to an earlier try
                self._device_ts = reply.header.value["ts"]
                if "error" in payload:
                    self._handle_error(payload["error"])  # type: ignore[no-untyped-call]
                return payload.get("result", payload)
        if undecodable:  # the device answers, but not in our token
            raise DeviceException(f"checksum: {undecodable} reply(ies) from {self.ip} did not decrypt")
        raise DeviceException(f"no reply from {self.ip}")
