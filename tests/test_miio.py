"""The miio driver against the simulated relay: real protocol, real UDP, on loopback."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable

import pytest

from gasstove.adapters.miio_relay import MiioRelay
from gasstove.domain.config import MiioCountdown, MiioRelayConfig
from gasstove.domain.errors import RelayRefused, RelayUnreachable, TokenRejected
from gasstove.sim.miio_device import free_loopback_host

from .fixtures_miio import TOKEN, SimRelay, random_token


def relay_for(host: str, token: str = TOKEN, **fields: object) -> MiioRelay:
    return MiioRelay(MiioRelayConfig(type="miio", host=host, token=token, **fields))  # type: ignore[arg-type]


def run(coro_fn: Callable[[float], object], deadline_s: float = 2.0) -> object:
    async def main() -> object:
        return await coro_fn(time.monotonic() + deadline_s)  # type: ignore[misc]

    return asyncio.run(main())


def test_python_miio_clients_work_unmodified_against_the_simulator(
    miio_relay: Callable[..., SimRelay],
) -> None:
    import miio

    sim = miio_relay()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        miot = miio.MiotDevice(sim.host, TOKEN, timeout=1)
        assert miot.info().model == "cuco.plug.cp2"
        miot.set_property_by(2, 1, True)
        assert miot.get_property_by(2, 1)[0]["value"] is True
    assert not sim.burner.lit

    plug = miio_relay("right", protocol="legacy")
    device = miio.Device(plug.host, TOKEN, timeout=1)
    assert device.send("set_power", ["on"]) == ["ok"]
    assert device.send("get_prop", ["power"]) == ["on"]


@pytest.mark.parametrize("protocol", ["miot", "legacy"])
def test_switch_and_read_back(miio_relay: Callable[..., SimRelay], protocol: str) -> None:
    sim = miio_relay(protocol=protocol)
    relay = relay_for(sim.host, protocol=protocol)

    async def act(deadline: float) -> bool:
        await relay.switch(True, deadline=deadline)
        await relay.wait_for(True, deadline=deadline)
        return await relay.read(deadline=deadline)

    assert run(act) is True
    assert sim.device.energised and not sim.burner.lit
    assert run(lambda d: relay.identify(deadline=d)) in (
        "cuco.plug.cp2 firmware 1.0.0_sim", "chuangmi.plug.v3 firmware 1.0.0_sim",
    )


def test_thirty_percent_packet_loss_still_succeeds_within_the_deadline(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay(loss=0.3, seed=7)
    relay = relay_for(sim.host)
    for _ in range(5):
        start = time.monotonic()

        async def act(deadline: float) -> None:
            await relay.switch(not sim.device.energised, deadline=deadline)

        run(act, deadline_s=5)
        assert time.monotonic() - start < 5
    assert sim.device.energised  # five sets ended on True


def test_a_dead_relay_fails_within_the_deadline() -> None:
    relay = relay_for(free_loopback_host())
    start = time.monotonic()
    with pytest.raises(RelayUnreachable, match=r"no answer from 127\.0\.0\.\d+ within the deadline"):
        run(lambda d: relay.read(deadline=d), deadline_s=1.5)
    assert time.monotonic() - start < 1.5 + 0.6


def test_a_wrong_token_is_named_not_traced(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    wrong = random_token()
    relay = relay_for(sim.host, token=wrong)
    with pytest.raises(TokenRejected) as err:
        run(lambda d: relay.switch(True, deadline=d), deadline_s=1.5)
    assert str(err.value).startswith(f"token rejected by {sim.host}")
    assert wrong not in str(err.value) and TOKEN not in str(err.value)
    assert not sim.device.energised and sim.burner.lit


def test_a_missing_property_is_refused_clearly(miio_relay: Callable[..., SimRelay]) -> None:
    sim = miio_relay()
    relay = relay_for(sim.host, siid=3, piid=9)
    with pytest.raises(RelayRefused, match="cannot read siid 3 piid 9"):
        run(lambda d: relay.read(deadline=d))


def test_a_device_restarting_mid_session_is_handshaken_again(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay()
    relay = relay_for(sim.host)
    run(lambda d: relay.switch(True, deadline=d))
    sim.device.restart()
    assert run(lambda d: relay.read(deadline=d)) is False
    run(lambda d: relay.switch(True, deadline=d))
    assert sim.device.energised


def test_a_declared_countdown_ends_the_pulse_on_the_device(
    miio_relay: Callable[..., SimRelay],
) -> None:
    sim = miio_relay(countdown=(2, 5), countdown_unit_s=0.2)
    # 0.2 s units (config allows >= 1 s) keep the test short
    relay = relay_for(sim.host, countdown=MiioCountdown.model_construct(siid=2, piid=5, unit_seconds=0.2))
    run(lambda d: relay.switch(True, deadline=d, pulse_seconds=0.3))
    assert sim.device.energised and not sim.burner.lit
    # we "die" here: nobody restores, the plug's own timer does (2 units = 0.4 s)
    time.sleep(0.6)
    assert not sim.device.energised
    assert sim.burner.state().loop_closed and not sim.burner.lit


def test_a_relay_slow_to_answer_is_still_driven(miio_relay: Callable[..., SimRelay]) -> None:
    """Wi-Fi power saving can delay every answer by a few hundred ms, the handshake's too."""
    sim = miio_relay(latency_s=0.3)
    relay = relay_for(sim.host)

    async def act(deadline: float) -> None:
        await relay.switch(True, deadline=deadline)
        await relay.wait_for(True, deadline=deadline)

    run(act, deadline_s=3)
    assert sim.device.energised and not sim.burner.lit


def test_a_simulator_without_an_address_binds_a_free_one_even_if_another_process_took_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `stove demo` once crashed with "Address already in use": it probed a free address and
    # bound it later, and another job took it in between. With no address the simulator
    # binds the first free one itself.
    import socket

    from gasstove.sim import miio_device
    from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings

    taken = free_loopback_host()
    spare = free_loopback_host(int(taken.rsplit(".", 1)[1]) + 1)
    monkeypatch.setattr(miio_device, "_loopback_hosts", lambda start: iter([taken, spare]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind((taken, miio_device.PORT))
        device = MiioSimDevice(MiioSimSettings("", TOKEN))

        async def main() -> bool:
            await device.start()
            relay = relay_for(device.settings.host)
            try:
                return await relay.read(deadline=time.monotonic() + 2)
            finally:
                await relay.close()
                device.close()

        assert asyncio.run(main()) is False  # answered: resting
    assert device.settings.host == spare


def test_the_driver_frames_datagrams_as_python_miio_does() -> None:
    """The driver writes miIO itself (python-miio's framing costs a one-shot `stove off` its
    imports): each side reads what the other writes, and a reply sealed with another token
    is not taken for an answer."""
    from datetime import datetime

    from miio.protocol import Message

    from gasstove.adapters.miio_relay import _Undecodable, _Wire

    token = bytes.fromhex(TOKEN)
    wire = _Wire(token)
    request = {"id": 4711, "method": "set_properties",
               "params": [{"did": "gs-1", "siid": 2, "piid": 1, "value": True}]}
    ours = wire.frame(request, b"\x01\x02\x03\x04", 1_000_000)
    read = Message.parse(ours, token=token)  # (python-miio checks the md5 checksum)
    assert read.data.value == request
    assert read.header.value.device_id == b"\x01\x02\x03\x04"
    assert read.header.value.ts == datetime.utcfromtimestamp(1_000_000)

    reply = {"id": 4711, "result": [{"did": "gs-1", "siid": 2, "piid": 1, "code": 0}]}
    header = {"length": 0, "unknown": 0, "device_id": b"\x01\x02\x03\x04",
              "ts": datetime.utcfromtimestamp(1_000_005)}
    theirs = Message.build({"data": {"value": reply}, "header": {"value": header},
                            "checksum": 0}, token=token)
    assert wire.open(theirs) == (1_000_005, reply)
    with pytest.raises(_Undecodable):
        _Wire(bytes.fromhex(random_token())).open(theirs)
    with pytest.raises(_Undecodable):
        wire.open(theirs[:-16] + bytes(16))  # (altered on the way: the checksum fails)
