"""miio faults: loss, restarts mid-cut, replies that are not the device's, what a failure says, time.

tests/test_miio.py covers the driver's single calls (30% loss, a dead relay,
a wrong token, a restart between calls); these drive ``Stove.shut_off`` (with
an injected pulse sleep and short deadlines), the driver under faults, and
real ``stove off`` processes, over real UDP: a replayer that recorded the
relay's replies and later speaks for it, 60 % loss that must not be called a
wrong token, replies lost after the relay acted, silent relays against the
deadline, and a cut arriving while a status read waits on a deaf relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from miio.protocol import Message

from gasstove.adapters.burner_guard import FileBurnerGuard
from gasstove.adapters.miio_relay import MiioRelay
from gasstove.domain.config import MiioRelayConfig
from gasstove.domain.errors import RelayError, RelayUnreachable, TokenRejected
from gasstove.domain.plan import Wiring
from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings, free_loopback_host, serve_in_thread

from .fixtures_miio import TOKEN, SimRelay, burner_yaml, lit_burner, write_config
from .test_control import FakeSleep, act, stove_for
from .test_miio import relay_for


def test_thirty_percent_loss_on_every_datagram_still_cuts_and_restores(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay(loss=0.3, seed=11)
    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="4s"),
                     "shut_off", ["left"])
    assert outcome.ok and outcome.restored, outcome.message
    assert not sim.burner.lit and not sim.device.energised


def test_total_loss_fails_within_the_deadline_and_says_so(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay(loss=1.0)
    start = time.monotonic()
    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="1s"),
                     "shut_off", ["left"])
    assert not outcome.ok and outcome.relay == "unknown"
    assert outcome.message.startswith("shut-off NOT confirmed: no answer from")
    # the first read (a third of the deadline) plus the cut's own deadline
    assert time.monotonic() - start < 1 / 3 + 1 + 0.6
    assert sim.burner.lit


def test_loss_beginning_mid_pulse_leaves_the_relay_cutting_and_says_so(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay()

    def go_deaf() -> None:
        sim.device.settings.loss = 1.0

    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(go_deaf), deadline="1s"),
                     "shut_off", ["left"])
    assert not outcome.ok and outcome.relay == "cutting" and outcome.restored is False
    assert "did not restore" in outcome.message and "stove unlock left" in outcome.message
    assert sim.device.energised and not sim.burner.lit  # a stuck cut: safe, and reported


@pytest.mark.parametrize("wiring", ["normally_closed", "normally_open"])
def test_a_device_restarting_mid_cut_is_handshaken_again_and_the_restore_confirmed(
    miio_relay: Callable[..., SimRelay], wiring: str,
) -> None:
    sim = miio_relay(wiring=wiring)
    stamps: list[int] = []

    def power_cycle() -> None:
        stamps.append(sim.device._stamp())
        sim.device.restart()  # new uptime stamp; the relay drops to released
        stamps.append(sim.device._stamp())

    (outcome,) = act(stove_for(burner_yaml("left", sim, wiring=wiring), sleep=FakeSleep(power_cycle)),
                     "shut_off", ["left"])
    assert stamps[1] < stamps[0]
    assert outcome.ok and outcome.restored and outcome.relay == "resting", outcome.message
    assert not sim.burner.lit
    assert sim.device.energised is (wiring == "normally_open")


def test_a_wrong_token_is_reported_and_the_burner_left_alone(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    wrong = "ffeeddccbbaa99887766554433221100"
    (outcome,) = act(stove_for(burner_yaml("left", sim, token=wrong), sleep=FakeSleep(), deadline="1s"),
                     "shut_off", ["left"])
    assert not outcome.ok and f"token rejected by {sim.host}" in outcome.message
    assert wrong not in outcome.message and TOKEN not in outcome.message
    assert sim.burner.lit and sim.device.requests == []


# -- replies that are not the device's answer to this request ------------------------------

class RogueNeighbour(MiioSimDevice):
    """A genuine simulated relay next to a rogue on another 127.0.0.x address.

    Before each genuine reply, the rogue sends ``forge(request reply)`` to the
    same client port from its own address; ``stale`` instead makes the device
    itself first send a reply carrying an earlier request id, and ``old stamp``
    one that answers this request but carries a stamp older than our
    handshake. python-miio takes the first datagram on its socket, from
    anywhere, and never checks ids.
    """

    def __init__(self, settings: MiioSimSettings, rogue_host: str, mode: str) -> None:
        super().__init__(settings, lit_burner("left"))
        self.mode = mode
        self.rogue = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rogue.bind((rogue_host, 0))
        self.forged = 0

    def close(self) -> None:
        super().close()
        self.rogue.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._last_client = addr
        super().datagram_received(data, addr)

    def _encrypt(self, payload: dict[str, Any]) -> bytes:
        if self.mode != "garbage" and "result" in payload and isinstance(payload["result"], list):
            # "the relay is energised", as the answer to this very request or an earlier one
            lie = {**payload, "result": [{**p, "value": True} if "value" in p else p
                                         for p in payload["result"] if isinstance(p, dict)]}
            if self.mode == "stale":
                lie["id"] = payload["id"] - 1
            if self.mode == "old stamp":  # this very answer, as if sent before our handshake
                self._stamp_base -= 100
            forged = super()._encrypt(lie)
            if self.mode == "old stamp":
                self._stamp_base += 100
            if self.mode in ("stale", "old stamp"):
                self._send(forged, self._last_client)
            else:
                self.rogue.sendto(forged, self._last_client)
            self.forged += 1
        elif self.mode == "garbage":
            self.rogue.sendto(b"\x21\x31\x00\x40" + b"\x00" * 60, self._last_client)
            self.forged += 1
        return super()._encrypt(payload)


@pytest.fixture
def rogue() -> Iterator[Callable[[str], RogueNeighbour]]:
    started: list[Any] = []

    def start(mode: str) -> RogueNeighbour:
        host = free_loopback_host()
        rogue_host = free_loopback_host(int(host.rsplit(".", 1)[1]) % 250 + 2)
        device = RogueNeighbour(MiioSimSettings(host, TOKEN, wiring=Wiring.NORMALLY_CLOSED),
                                rogue_host, mode)
        context = serve_in_thread(device)
        context.__enter__()
        started.append(context)
        return device

    yield start
    for context in started:
        context.__exit__(None, None, None)


@pytest.mark.parametrize("mode", ["forged", "stale", "old stamp", "garbage"])
def test_only_the_devices_own_reply_to_this_request_counts(
    rogue: Callable[[str], RogueNeighbour], mode: str,
) -> None:
    device = rogue(mode)
    relay = MiioRelay(MiioRelayConfig(type="miio", host=device.settings.host, token=TOKEN),  # type: ignore[arg-type]
                      per_try=0.3)

    async def read() -> bool:
        return await relay.read(deadline=time.monotonic() + 1.5)

    assert asyncio.run(read()) is False, "the released relay was read as energised"
    assert device.forged >= 1 and not device.energised and device.burner is not None
    assert device.burner.lit


# -- an attacker who recorded the relay's replies earlier, and later speaks for it --------

class Replayer:
    """Records a relay's encrypted replies, then impersonates the relay with them.

    Recording is passive, as a sniffer on the Wi-Fi would be: it keeps every
    datagram the device sends (tapped here at the simulator's socket). Later,
    when the real relay is dead (unplugged, or off the network), the attacker
    takes its address: on a LAN by answering ARP for it, here by binding the
    freed 127.0.0.x:54321, so its datagrams come from the relay's own address
    and port and pass a connected socket's filter. It cannot decrypt our
    requests, so it answers each handshake with a recorded one and each
    request with every recorded reply at once, hoping one carries our id.
    """

    def __init__(self) -> None:
        self.hellos: list[bytes] = []
        self.replies: list[bytes] = []
        self.answered = 0

    def tap(self, device: MiioSimDevice) -> None:
        send = device._send

        def sniffed(data: bytes, addr: tuple[str | Any, int]) -> None:
            (self.hellos if len(data) == 32 else self.replies).append(data)
            send(data, addr)

        device._send = sniffed  # type: ignore[method-assign]

    @contextlib.contextmanager
    def impersonate(self, host: str) -> Iterator[None]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 54321))
        sock.settimeout(0.1)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    data, addr = sock.recvfrom(4096)
                except TimeoutError:
                    continue
                self.answered += 1
                for reply in self.hellos[:1] if len(data) == 32 else self.replies:
                    sock.sendto(reply, addr)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            sock.close()


@pytest.mark.parametrize("protocol", ["miot", "legacy"])
def test_replies_recorded_earlier_and_replayed_from_the_relays_address_never_confirm(
    protocol: str,
) -> None:
    replayer = Replayer()
    host = free_loopback_host()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, protocol=protocol,  # type: ignore[arg-type]
                                           wiring=Wiring.NORMALLY_CLOSED), lit_burner("left"))
    replayer.tap(device)
    with serve_in_thread(device):
        # Earlier: separate processes (a fresh driver each: python-miio's ids
        # restart in every process) read the relay, lock it (energised) and read
        # it again, as `stove status`, `stove lock` and `stove off` runs would.
        for _ in range(8):
            relay = relay_for(host, protocol=protocol)

            async def read_lock_read(relay: MiioRelay = relay) -> None:
                deadline = time.monotonic() + 2
                await relay.read(deadline=deadline)
                await relay.switch(True, deadline=deadline)
                for _ in range(6):
                    assert await relay.read(deadline=deadline) is True

            asyncio.run(read_lock_read())
    assert device.energised and len(replayer.replies) >= 8 * 8
    # Now the relay is dead; the attacker speaks from its address while we shut off.
    tries, confirmed = 20, []
    with replayer.impersonate(host):
        for _ in range(tries):
            (outcome,) = act(stove_for(burner_yaml("left", None, host=host, protocol=protocol),
                                       sleep=FakeSleep(), deadline="1s"), "shut_off", ["left"])
            if outcome.ok or outcome.cut_ms is not None:  # done, or the cut "confirmed"
                confirmed.append(outcome.message)
    assert replayer.answered >= tries
    assert confirmed == [], f"{len(confirmed)} of {tries} false confirmations: {confirmed[0]}"


# -- what a failure says ------------------------------------------------------------------

def test_packet_loss_is_never_called_a_rejected_token() -> None:
    """60 % loss each way with the right token: failures say "no answer", never "token rejected"."""
    host = free_loopback_host()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, loss=0.6))
    failures: list[str] = []
    with serve_in_thread(device):
        for run in range(40):
            relay = MiioRelay(MiioRelayConfig(type="miio", host=host, token=TOKEN),  # type: ignore[arg-type]
                              per_try=0.1)  # loopback answers in microseconds
            budget = (0.3, 1.0)[run % 2]  # 3 tries, as a short deadline gives; or 10

            async def cut(relay: MiioRelay = relay, budget: float = budget) -> None:
                await relay.switch(True, deadline=time.monotonic() + budget)

            try:
                asyncio.run(cut())
            except RelayError as err:
                failures.append(str(err))
    mislabels = [f for f in failures if "token" in f]
    assert len(failures) >= 10  # enough failures for the count to mean something
    assert mislabels == [], f"{len(mislabels)} of {len(failures)} failures blamed the token"
    assert all(f.startswith(f"no answer from {host} within the deadline") for f in failures)


def test_a_wrong_token_is_still_named_with_packet_loss_on_a_long_deadline() -> None:
    host = free_loopback_host()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, loss=0.3, seed=5))
    relay = MiioRelay(MiioRelayConfig(type="miio", host=host, token="ab" * 16),  # type: ignore[arg-type]
                      per_try=0.1)
    with serve_in_thread(device), pytest.raises(TokenRejected, match=f"token rejected by {host}"):
        asyncio.run(relay.switch(True, deadline=time.monotonic() + 1.5))
    assert device.requests == [] and not device.energised


def mute_after_a_set(device: MiioSimDevice) -> None:
    """The relay acts on the first set it gets, and nothing it sends gets through from then on."""
    handle, reply = device._handle, device._reply
    muted: list[bool] = []

    def acting(method: str, params: Any) -> Any:
        if method.startswith("set_"):
            muted.append(True)
        return handle(method, params)

    def lost(data: bytes, addr: tuple[str | Any, int]) -> None:
        if not muted:
            reply(data, addr)

    device._handle = acting  # type: ignore[method-assign]
    device._reply = lost  # type: ignore[method-assign]


@pytest.mark.parametrize("wiring", ["normally_closed", "normally_open"])
def test_a_set_whose_answer_was_lost_says_it_may_have_reached_the_relay(
    miio_relay: Callable[..., SimRelay], wiring: str,
) -> None:
    sim = miio_relay(wiring=wiring)
    mute_after_a_set(sim.device)
    (outcome,) = act(stove_for(burner_yaml("left", sim, wiring=wiring), sleep=FakeSleep(),
                               deadline="1s"), "shut_off", ["left"])
    assert not outcome.ok and "token" not in outcome.message
    assert outcome.message.endswith(
        "the command may have reached the relay: it may now be cutting (loop open)"), outcome.message
    assert not sim.burner.lit  # and it had: the relay cut, only its answers were lost


def test_a_cut_that_may_have_reached_the_relay_stays_recorded_and_is_finished(
    miio_relay: Callable[..., SimRelay], tmp_path: Path,
) -> None:
    """A set that acted but whose answers were lost leaves the loop open: the pulse stays
    in the burner's record, so the next command (or daemon start) restores it."""
    sim = miio_relay()
    mute_after_a_set(sim.device)
    guard = FileBurnerGuard(tmp_path / "burners")
    (outcome,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="1s",
                               guard=guard), "shut_off", ["left"])
    assert not outcome.ok and outcome.sent, outcome
    assert sim.device.energised and guard.record("left").pulse is not None
    sim.device._reply = MiioSimDevice._reply.__get__(sim.device)  # type: ignore[method-assign]
    (restored,) = act(stove_for(burner_yaml("left", sim), sleep=FakeSleep(), deadline="2s",
                                guard=guard), "finish_pulses", ["left"])
    assert restored.ok and not sim.device.energised, restored
    assert guard.record("left").pulse is None


def test_a_relay_that_never_saw_the_command_does_not_claim_it_may_have() -> None:
    host = free_loopback_host()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, loss=1.0))
    relay = MiioRelay(MiioRelayConfig(type="miio", host=host, token=TOKEN))  # type: ignore[arg-type]
    with serve_in_thread(device), pytest.raises(RelayUnreachable) as err:
        asyncio.run(relay.switch(True, deadline=time.monotonic() + 1))
    assert str(err.value) == f"no answer from {host} within the deadline (2 tries)"
    assert err.value.may_be_energised is None


def test_the_error_carries_what_the_lost_set_may_have_done(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay(energised=True)
    mute_after_a_set(sim.device)
    relay = MiioRelay(MiioRelayConfig(type="miio", host=sim.host, token=TOKEN))  # type: ignore[arg-type]
    with pytest.raises(RelayUnreachable) as err:
        asyncio.run(relay.switch(False, deadline=time.monotonic() + 1))
    assert err.value.may_be_energised is False
    assert str(err.value).endswith("the command may have reached the relay: it may now be released")


# -- bounded time -------------------------------------------------------------------------

def slow_handshake_wrong_token(host: str) -> MiioSimDevice:
    """A relay that answers the handshake late (0.3 s) and never answers our commands."""
    return MiioSimDevice(MiioSimSettings(host, "ab" * 16, latency_s=0.3))


@pytest.mark.parametrize("relay", ["silent", "handshake only"])
def test_an_unconfirmed_shut_off_is_reported_by_the_deadline(relay: str) -> None:
    host = free_loopback_host()
    device = (MiioSimDevice(MiioSimSettings(host, TOKEN, loss=1.0)) if relay == "silent"
              else slow_handshake_wrong_token(host))
    stove = stove_for(burner_yaml("left", None, host=host), sleep=FakeSleep(), deadline="2s")
    with serve_in_thread(device):
        start = time.monotonic()
        (outcome,) = act(stove, "shut_off", ["left"])
        took = time.monotonic() - start
    assert not outcome.ok and outcome.cut_ms is None
    assert took <= 2 + 0.1, f"reported after {took:.2f} s with a 2 s deadline"


@pytest.mark.parametrize("relay", ["silent", "handshake only"])
def test_stove_off_on_a_silent_relay_exits_by_the_deadline(relay: str, tmp_path: Path) -> None:
    """A real `stove off` process exits within deadline + 0.5 s of reaching for the relay.

    Its start-up (interpreter, imports, configuration) ends when its first
    datagram reaches the relay; that moment is taken at the relay, so the
    machine's load on start-up does not blur the figure.
    """
    host = free_loopback_host()
    device = (MiioSimDevice(MiioSimSettings(host, TOKEN, loss=1.0)) if relay == "silent"
              else slow_handshake_wrong_token(host))
    arrivals: list[float] = []
    received = device.datagram_received

    def timed(data: bytes, addr: tuple[str | Any, int]) -> None:
        arrivals.append(time.monotonic())
        received(data, addr)

    device.datagram_received = timed  # type: ignore[method-assign]
    config = write_config(tmp_path / "c.yaml", burner_yaml("left", None, host=host))
    with serve_in_thread(device):
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "off", "left"],
                              capture_output=True, text=True, timeout=60)
        end = time.monotonic()
    assert done.returncode == 1 and "shut-off NOT confirmed" in done.stderr
    startup = arrivals[0] - start
    assert end - arrivals[0] <= 2 + 0.5, f"{end - start:.2f} s, of which start-up {startup:.2f} s"


def test_a_shut_off_does_not_wait_behind_a_read_of_a_deaf_relay(
    miio_relay: Callable[..., SimRelay],
) -> None:
    """A status poll is reading a relay that answers handshakes but not commands; a cut comes."""
    sim = miio_relay()
    arrived: list[tuple[float, str]] = []
    deaf = [True]
    received = sim.device.datagram_received

    def sniffed(data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) != 32:
            method = Message.parse(data, token=bytes.fromhex(TOKEN)).data.value["method"]
            arrived.append((time.monotonic(), method))
            if deaf:
                return
        received(data, addr)

    sim.device.datagram_received = sniffed  # type: ignore[method-assign]
    relay = relay_for(sim.host)

    async def poll_then_cut() -> tuple[float, bool]:
        start = time.monotonic()
        poll = asyncio.create_task(relay.read(deadline=start + 3))
        await asyncio.sleep(0.2)
        asyncio.get_running_loop().call_later(0.8, deaf.clear)  # the relay hears again at 1 s
        cutting = time.monotonic()
        await relay.switch(True, deadline=cutting + 3)
        return cutting, await poll

    cutting, polled = asyncio.run(poll_then_cut())
    first_set = min(t for t, method in arrived if method == "set_properties")
    assert first_set - cutting <= 0.5 + 0.05, f"the cut waited {first_set - cutting:.2f} s"
    assert sim.device.energised and not sim.burner.lit
    assert polled is True  # the poll went on after the cut, and read its result
