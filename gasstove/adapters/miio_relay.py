"""Xiaomi miio relays, with a deadline instead of python-miio's 5 s × 3 retries.

python-miio's ``send()`` retries the same request and does not check reply
ids (docs/design.md §5), so we only ever send idempotent sets, confirm by reading
back, and run our own exchange, in our own framing (``_Protocol``: python-miio's
wire format, without its import cost; the simulator and the tests speak
python-miio's own code, so the two are checked against each other): a short wait for each answer (handshake,
command), never past the caller's overall deadline. A reply counts only if
it answers this very request (``_Protocol``). Blocking calls run in worker
threads so that several burners are cut at the same time, and a write never
waits behind a read of the same relay (``_Turns``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain.errors import (
    RelayError,
    RelayRefused,
    RelayUnreachable,
    TokenRejected,
    Unconfirmed,
)

if TYPE_CHECKING:
    from ..domain.config import MiioRelayConfig
    from ..domain.plan import CutPlan


_LOG = logging.getLogger(__name__)
Clock = Callable[[], float]
#: How long a try waits for each answer (handshake, command): a LAN relay
#: answers in milliseconds; a lost datagram should cost a fraction of the
#: deadline, not python-miio's 5 s.
PER_TRY_S = 0.5
#: Pause between read-backs while waiting for the contact to report a change.
POLL_S = 0.05
#: The miIO port every device listens on.
MIIO_PORT = 54321
#: The unencrypted handshake ("hello"), sent per try as often as python-miio's
#: ``discover`` does; a device answers each.
HELLO = bytes.fromhex("21310020" + "ff" * 28)
HELLOS = 3
#: Request ids run 1..9999 and wrap, as python-miio's own do (its PR 211): the
#: range every device is known to take. Larger ids work on some (AlexxIT's
#: gateway code goes to 999999) but nobody has checked them on plugs.
ID_RANGE = 9999
#: Ids go up by a random step of up to this: devices take jumps (python-miio
#: jumps by 100 on a retry) and drop an id they saw recently, and ids recorded
#: from earlier exchanges are then scattered rather than a run ours follows.
ID_STEP = 100
#: Tries remembered as evidence for "token rejected" (see ``_says_wrong_token``).
EVIDENCE_TRIES = 16


class MiioRelay:
    def __init__(
        self, config: MiioRelayConfig, *, per_try: float = PER_TRY_S, plan: CutPlan | None = None,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.config = config
        self._per_try = per_try
        #: The burner's wiring, to say in its words what a lost command may have done.
        self._plan = plan
        # Bound once: a test harness that freezes ``time.monotonic`` by looking at
        # its caller's stack (freezegun) would freeze some of our calls and not
        # others, and a socket's timeout is real time anyway.
        self._now = monotonic
        self._turns = _Turns(monotonic)
        self._proto = _Protocol(config.host, config.token.get_secret_value(), monotonic)
        #: Failed tries since the relay last answered a command (newest last).
        self._failed: deque[_Try] = deque(maxlen=EVIDENCE_TRIES)

    def describe(self) -> str:
        return self.config.describe()

    async def identify(self, *, deadline: float) -> str:
        info = await self._call("miIO.info", [], deadline)
        if not isinstance(info, dict):
            raise RelayRefused(f"{self.config.host} sent an unreadable miIO.info reply")
        return f"{_shown(info.get('model'))} firmware {_shown(info.get('fw_ver'))}"

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
            reply = await self._call("set_power", ["on" if energised else "off"], deadline,
                                     write=True, asks=energised)
            if reply != ["ok"]:
                raise RelayRefused(f"{self.config.host} did not accept set_power")
            return
        await self._set_properties([(self.config.siid, self.config.piid, energised)], deadline,
                                   asks=energised)

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        # A legacy plug's reply carries nothing of ours but its id (see
        # _Protocol): it must report the state twice in a row, under two ids.
        needed = 2 if self.config.protocol == "legacy" else 1
        seen: bool | None = None
        agreeing = 0
        while True:
            seen = await self.read(deadline=deadline)
            agreeing = agreeing + 1 if seen == energised else 0
            if agreeing == needed:
                return
            if self._now() + POLL_S >= deadline:
                break
            await asyncio.sleep(POLL_S)
        state = "energised" if seen else "released"
        raise Unconfirmed(f"{self.config.host} still reports the relay {state}")

    async def close(self) -> None:
        return None

    @staticmethod
    def _prop(siid: int, piid: int, value: Any = None) -> dict[str, Any]:
        # MIoT devices echo each property's "did" in their reply (python-miio's
        # MiotDevice relies on it to map the answers): a fresh random one binds
        # the reply to this request, whatever its id (see _Protocol).
        prop: dict[str, Any] = {"did": f"gs-{secrets.token_hex(6)}", "siid": siid, "piid": piid}
        if value is not None:
            prop["value"] = value
        return prop

    async def _set_properties(self, props: list[tuple[int, int, Any]], deadline: float,
                              *, asks: bool | None = None) -> None:
        reply = await self._call("set_properties", [self._prop(*p) for p in props], deadline,
                                 write=True, asks=asks)
        try:
            codes = [item.get("code", 0) for item in reply]
        except (TypeError, AttributeError):
            raise RelayRefused(f"{self.config.host} sent an unreadable set reply") from None
        if len(codes) != len(props) or any(codes):
            raise RelayRefused(f"{self.config.host} refused the property write (codes {codes})")

    async def _call(self, method: str, params: Any, deadline: float, *, write: bool = False,
                    asks: bool | None = None) -> Any:
        """``write``: the call changes the relay (it goes before reads); ``asks``: to this state."""
        return await asyncio.to_thread(self._call_blocking, method, params, deadline, write, asks)

    def _call_blocking(self, method: str, params: Any, deadline: float, write: bool,
                       asks: bool | None) -> Any:
        host = self.config.host
        tries = 0
        sent = False  # a command datagram left: the relay may have acted on it
        if not self._turns.take(write=write, deadline=deadline):
            raise RelayUnreachable(f"{host} was busy with another command until the deadline")
        holding = True
        try:
            while deadline - self._now() > 0.01:
                if not write and self._turns.write_waiting():
                    # A shut-off must not queue behind a status poll: give it the
                    # relay now, and go on with our own tries after it.
                    self._turns.release()
                    holding = self._turns.take(write=False, deadline=deadline)
                    if not holding:
                        break
                    continue
                tries += 1
                seen = _Try()
                try:
                    reply = self._proto.exchange(method, params, self._per_try, deadline, seen,
                                                 self._turns.write_waiting if not write else None)
                except _GaveWay:
                    tries -= 1  # handshaken, and the command left for after the write
                    continue
                except _DeviceError as err:
                    code = err.code if isinstance(err.code, int) else "?"  # its own text stays out
                    raise RelayRefused(f"{host} refused {method} (error code {code})") from None
                except _NoAnswer:
                    sent = sent or seen.command_sent
                    self._failed.append(seen)
                    _LOG.debug("%s: try %d of %s got no answer", host, tries, method)
                    continue
                except socket.gaierror as err:  # a name: nothing was sent
                    raise RelayUnreachable(f"the host name {host} does not resolve "
                                           f"({err.strerror or err})") from None
                except OSError as err:  # unroutable address, no network
                    raise RelayUnreachable(f"cannot reach {host}: {err.strerror or err}") from None
                self._failed.clear()
                return reply
        finally:
            if holding:
                self._turns.release()
        raise self._failure(tries, asks if sent else None)

    def _failure(self, tries: int, may_be: bool | None) -> RelayError:
        """The error for a call that got no answer; ``may_be``: what a lost set may have done."""
        host = self.config.host
        if any(t.undecodable for t in self._failed):
            # A device stays silent on a datagram it cannot decrypt; a reply in
            # another token means the relay at this address does not share ours.
            return TokenRejected(f"token rejected by {host}: its replies do not decrypt "
                                 "with our token (check the token)")
        hellos = sum(t.hellos_sent for t in self._failed)
        answered = sum(t.hellos_answered for t in self._failed)
        lost = sum(t.command_sent for t in self._failed)
        if _says_wrong_token(hellos, answered, lost):
            return TokenRejected(
                f"token rejected by {host}: it answered {answered} of {hellos} handshakes but "
                f"none of {lost} commands (check the token)")
        message = (f"no answer from {host} within the deadline "
                   f"({tries} {'try' if tries == 1 else 'tries'})")
        if may_be is not None:
            if self._plan is None:
                state = "energised" if may_be else "released"
            else:
                loop = "loop open" if self._plan.loop_open(may_be) else "loop closed"
                state = f"{self._plan.describe(may_be)} ({loop})"
            message += f"; the command may have reached the relay: it may now be {state}"
        err = RelayUnreachable(message)
        err.may_be_energised = may_be
        return err


def _says_wrong_token(hellos: int, answered: int, lost: int) -> bool:
    """Whether a relay that answers handshakes but not commands has another token.

    A device answers the unencrypted handshake whatever our token, and drops
    a command it cannot decrypt without a word; so a wrong token shows as
    handshakes answered and commands not. Packet loss shows the same on a
    few tries: at 60 % loss each way a round trip succeeds 16 % of the time,
    and a try whose handshake got through often loses its command. So we
    compare how well each explanation fits ``answered`` of ``hellos`` and
    ``lost`` unanswered commands: loss alone, at whatever round-trip rate q
    fits best (q = answered / (hellos + lost)), against a wrong token (the
    commands can never be answered; q = answered / hellos for the handshakes).
    The token is called wrong only when loss explains the tries 50 times
    worse (a likelihood ratio under 1/50), and after at least two commands:
    - wrong token, no loss, 2 tries (6 handshakes answered, 2 commands lost):
      ratio (6/8)^6 (2/8)^2 = 0.011: named; 1 try: 0.105: "no answer" still.
    - right token, 60 % loss: it needs 6 of 6 handshakes answered over two
      tries (0.16^6 < 2e-5) or 8 of 9 over three (< 4e-6).
    - right token, 30 % loss (q = 0.49), three tries all failing (13 %): 8 or
      9 of 9 handshakes answered happen in about 3 % of such failures, which
      are themselves rare; longer deadlines make both rarer still.
    Losses are taken as independent; bursts that take several handshakes at
    once make "all answered" likelier under loss and the test weaker.
    """
    if lost < 2 or not answered:
        return False

    def fit(hits: int, misses: int) -> float:
        q = hits / (hits + misses)
        return float(q**hits * (1 - q) ** misses)

    return fit(answered, hellos - answered + lost) < fit(answered, hellos - answered) / 50


@dataclass
class _Try:
    """What one try saw: the evidence for telling a wrong token from packet loss."""

    hellos_sent: int = 0
    hellos_answered: int = 0
    command_sent: bool = False
    undecodable: int = 0  #: replies from the relay's address that did not decrypt


class _NoAnswer(Exception):
    """The try ended with no reply that answers this request."""


class _GaveWay(Exception):
    """A read stopped between its handshake and its command: a write is waiting."""


class _Turns:
    """One exchange with a relay at a time, and a write waiting goes before any read.

    python-miio's protocol state (ids, the device's stamp) allows one request
    at a time; a status poll on a silent relay holds it for its whole
    deadline. Reads therefore give way to a waiting write (``write_waiting``)
    between their tries and between a try's handshake and command, so a write
    waits at most one answer's wait, and take their turn again after it.
    """

    def __init__(self, monotonic: Clock) -> None:
        self._now = monotonic
        self._changed = threading.Condition()
        self._busy = False
        self._writes = 0  #: writes waiting for their turn

    def take(self, *, write: bool, deadline: float) -> bool:
        """Wait for our turn until ``deadline``; False if it never came."""
        with self._changed:
            self._writes += write
            try:
                free = self._changed.wait_for(
                    lambda: not self._busy and (write or not self._writes),
                    timeout=max(0.0, deadline - self._now()),
                )
            finally:
                self._writes -= write
            if free:
                self._busy = True
            return free

    def release(self) -> None:
        with self._changed:
            self._busy = False
            self._changed.notify_all()

    def write_waiting(self) -> bool:
        return self._writes > 0


class _Protocol:
    """python-miio's framing and crypto, one bounded try at a time, accepting only our answer.

    python-miio's own ``send`` takes the first datagram to reach its socket,
    from anywhere, never compares reply ids, and starts every process at id
    1: a reply recorded from an earlier process (the relay locked, "on") and
    sent again from the relay's address then answers a later ``stove off``'s
    read. Here a reply counts only if

    - it comes from the relay's address and port (a connected socket),
    - it decrypts with our token,
    - it carries this request's id; ids start at a random point of 1..9999 in
      each process and go up by random steps, so ids recorded from earlier
      exchanges do not line up with ours,
    - for MIoT, it echoes this request's random property "did"s (48 bits
      each): no reply to any other request has them, and
    - its stamp (the device's uptime clock, in every reply's header) is not
      older than the newest stamp we have from the device, the handshake's
      or an accepted reply's: anything recorded before that is stale.

    The handshake is unauthenticated: someone speaking for a dead relay can
    answer it with an old stamp. Then the id and the dids still hold for MIoT;
    a legacy (``set_power``) plug echoes nothing, and only its id is left:
    with K recorded replies a read matches with odds K/9999, so ``wait_for``
    wants two agreeing reads from such a plug ((K/9999)^2; README, "Xiaomi
    (miio) relays").

    A try's handshake and command each wait up to the per-try time (a relay
    in Wi-Fi power saving can take a few hundred ms for each), and never past
    the caller's deadline; python-miio's handshake waits 5 s, thrice.
    """

    def __init__(self, host: str, token: str, monotonic: Clock) -> None:
        self.ip, self.port = host, MIIO_PORT
        self._wire = _Wire(bytes.fromhex(token))
        self._now = monotonic
        self._seq = secrets.randbelow(ID_RANGE)
        self._discovered = False
        #: From the handshake: the device's id and its clock (whole seconds, its uptime).
        self._device_id = bytes(4)
        self._device_ts = 0

    @property
    def _id(self) -> int:
        self._seq = (self._seq + secrets.randbelow(ID_STEP)) % ID_RANGE + 1
        return self._seq

    def exchange(self, command: str, parameters: Any, per_try: float, deadline: float,
                 seen: _Try, give_way: Callable[[], bool] | None = None) -> Any:
        """One try: a handshake if needed, then the command, each waiting up to ``per_try``.

        Nothing waits past ``deadline``. Raises ``_NoAnswer``, or ``_GaveWay``
        when ``give_way()`` says, once handshaken, that the command must wait.
        """
        with ExitStack() as stack:
            if not self._discovered:
                hello = stack.enter_context(self._socket())
                stack.callback(self._count_late_hellos, hello, seen)
                self._handshake(hello, min(self._now() + per_try, deadline), seen)
                if give_way and give_way():
                    raise _GaveWay
            end = min(self._now() + per_try, deadline)
            request = {"id": self._id, "method": command,
                       "params": [] if parameters is None else parameters}
            datagram = self._wire.frame(request, self._device_id, self._device_ts + 1)
            with self._socket() as sock:
                _send(sock, datagram)
                seen.command_sent = True
                try:
                    return self._answer(sock, request, end, seen)
                except _NoAnswer:
                    # The device may have restarted (a new stamp): handshake again.
                    self._discovered = False
                    raise

    @contextmanager
    def _socket(self) -> Iterator[socket.socket]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            # connected: the kernel drops datagrams from any other address or port
            sock.connect((self.ip, self.port))
            yield sock

    def _handshake(self, sock: socket.socket, end: float, seen: _Try) -> None:
        for _ in range(HELLOS):
            _send(sock, HELLO)
        seen.hellos_sent += HELLOS
        for data in _datagrams(sock, end, self._now):
            if hello := _hello(data):
                seen.hellos_answered += 1
                self._device_id, self._device_ts = hello
                self._discovered = True
                return
        raise _NoAnswer

    @staticmethod
    def _count_late_hellos(sock: socket.socket, seen: _Try) -> None:
        """The other handshakes' answers, arrived while we waited for the command's."""
        sock.setblocking(False)
        while True:
            try:
                data = sock.recv(1024)
            except (BlockingIOError, ConnectionRefusedError):
                return
            seen.hellos_answered += _hello(data) is not None

    def _answer(self, sock: socket.socket, request: dict[str, Any], end: float, seen: _Try) -> Any:
        for data in _datagrams(sock, end, self._now):
            try:
                stamp, payload = self._wire.open(data)
            except _Undecodable:
                seen.undecodable += 1
                continue
            if stamp < self._device_ts or not _answers(request, payload):
                continue  # recorded before our handshake, or meant for another request
            self._device_ts = stamp
            if "error" in payload:
                # python-miio reads the error as an object: a reply whose "error" is
                # anything else (null, a list) escaped as a TypeError traceback
                error = payload["error"]
                raise _DeviceError(error.get("code") if isinstance(error, dict) else None)
            return payload.get("result", payload)
        raise _NoAnswer



class _DeviceError(Exception):
    """The device answered our request with an error (its code, if it gave one as a number)."""

    def __init__(self, code: Any) -> None:
        super().__init__(code)
        self.code = code


class _Undecodable(Exception):
    """A datagram that is not a miIO message sealed with our token."""


class _Wire:
    """The miIO datagram, as python-miio's ``miio/protocol.py`` builds and reads it.

    A 32-byte header (magic 0x2131, total length, 4 zero bytes, the device id,
    its clock in seconds, then md5(first 16 header bytes + token + payload)),
    then the JSON payload (NUL-terminated) in AES-128-CBC, PKCS#7 padded, with
    key = md5(token) and iv = md5(key + token). python-miio's framing imports
    ``construct`` and its ``miio`` package (tens of ms of a one-shot ``stove
    off``) for these few lines; the simulator still speaks python-miio's own,
    so each side is tested against the other.
    """

    def __init__(self, token: bytes) -> None:
        if len(token) != 16:
            raise ValueError("a miio token is 16 bytes")
        self._token = token
        self._key = hashlib.md5(token).digest()
        self._iv = hashlib.md5(self._key + token).digest()

    def _cipher(self) -> Any:
        # (imported here: the config layer builds relays it may never call)
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def frame(self, payload: dict[str, Any], device_id: bytes, stamp: int) -> bytes:
        plain = json.dumps(payload).encode() + b"\x00"
        pad = 16 - len(plain) % 16
        encryptor = self._cipher().encryptor()
        data: bytes = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        header = (b"\x21\x31" + (32 + len(data)).to_bytes(2, "big") + bytes(4) + device_id
                  + (stamp & 0xFFFFFFFF).to_bytes(4, "big"))
        return header + hashlib.md5(header + self._token + data).digest() + data

    def open(self, datagram: bytes) -> tuple[int, Any]:
        """(the device's clock, the payload) of a reply; raises ``_Undecodable``.

        As python-miio reads it: the checksum is checked unless the header says
        32 bytes (a handshake's shape); a payload that does not decrypt is
        returned as its bytes (it answers nothing of ours), one that decrypts
        to no JSON is undecodable.
        """
        if len(datagram) < 32 or datagram[:2] != b"\x21\x31":
            raise _Undecodable
        header, data = datagram[:16], datagram[32:]
        if (int.from_bytes(header[2:4], "big") != 32
                and hashlib.md5(header + self._token + data).digest() != datagram[16:32]):
            raise _Undecodable
        stamp = int.from_bytes(header[12:16], "big")
        try:
            decryptor = self._cipher().decryptor()
            padded: bytes = decryptor.update(data) + decryptor.finalize()
            pad = padded[-1] if padded else 0
            if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
                raise ValueError("bad padding")
        except ValueError:
            return stamp, data
        return stamp, _json(padded[:-pad].rstrip(b"\x00"))


def _json(plain: bytes) -> Any:
    """The JSON of a decrypted payload, with python-miio's allowances for known firmware slips."""
    for fixed in (plain, plain.replace(b',,"otu_stat"', b',"otu_stat"'),
                  plain[: plain.rfind(b"\x00")] if b"\x00" in plain else plain,
                  plain.replace(b'"value":00', b'"value":0')):
        try:
            return json.loads(fixed.decode())
        except ValueError:
            continue
    raise _Undecodable


def _shown(value: Any) -> str:
    """A name the device gives, fit for one line of `stove check`, or "?"."""
    return value if isinstance(value, str) and value.isprintable() and len(value) <= 64 else "?"


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except ConnectionRefusedError:
        # an ICMP "port unreachable" for an earlier datagram, reported (and
        # cleared) instead of sending this one: nobody listens there yet
        sock.send(data)


def _datagrams(sock: socket.socket, end: float, now: Clock) -> Iterator[bytes]:
    """Datagrams reaching ``sock`` until ``end``."""
    while (left := end - now()) > 0:
        sock.settimeout(left)
        try:
            yield sock.recv(4096)
        except TimeoutError:
            return
        except ConnectionRefusedError:
            continue  # an ICMP "port unreachable" for an earlier datagram: keep listening


def _hello(data: bytes) -> tuple[bytes, int] | None:
    """The device id and stamp of a handshake answer; None for anything else."""
    if len(data) != 32 or data[:4] != HELLO[:4]:
        return None
    return data[8:12], int.from_bytes(data[12:16], "big")


def _answers(request: dict[str, Any], payload: Any) -> bool:
    """Whether a decrypted reply is the answer to ``request`` (its id and, for MIoT, its dids)."""
    if not isinstance(payload, dict) or payload.get("id") != request["id"]:
        return False
    asked = [p.get("did") for p in request.get("params", []) if isinstance(p, dict)]
    if not asked or "error" in payload:
        return True
    result = payload.get("result")
    return isinstance(result, list) and [
        item.get("did") if isinstance(item, dict) else None for item in result
    ] == asked
