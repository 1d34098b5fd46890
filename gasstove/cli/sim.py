"""``stove sim``: run simulated relays in the foreground, for trying things without hardware."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Annotated, Literal

import typer

from ..domain.errors import UsageError
from ..domain.plan import Wiring
from .sim_burner import light, watch
from .sim_mqtt import register

app = typer.Typer(help="Run simulated relays wired into simulated burners.", no_args_is_help=True)

WiringOption = Annotated[Wiring, typer.Option(help="How the relay sits in the loop.")]
LitOption = Annotated[bool, typer.Option("--lit", help="Light the burner at start.")]


@app.command()
def miio(
    host: Annotated[str, typer.Option(help="Loopback address to serve on (port 54321).")] = "",
    token: Annotated[
        str | None, typer.Option(envvar="GASSTOVE_SIM_TOKEN", help="32 hex characters; random if omitted.")
    ] = None,
    protocol: Annotated[str, typer.Option(help="miot or legacy.")] = "miot",
    wiring: WiringOption = Wiring.NORMALLY_CLOSED,
    countdown: Annotated[
        str | None, typer.Option(help="SIID:PIID of a countdown property (device-timed pulses).")
    ] = None,
    countdown_unit: Annotated[float, typer.Option(help="Seconds per countdown unit.")] = 60.0,
    loss: Annotated[float, typer.Option(min=0, max=1, help="Datagram loss probability.")] = 0.0,
    latency: Annotated[float, typer.Option(min=0, max=10, help="Reply latency in seconds.")] = 0.0,
    lit: LitOption = False,
) -> None:
    """A Xiaomi relay speaking the real miio protocol on UDP, wired to a simulated burner."""
    import re

    from ..sim.burner import Burner
    from ..sim.miio_device import MiioSimDevice, MiioSimSettings

    if protocol not in ("miot", "legacy"):
        raise UsageError(f"--protocol must be miot or legacy, not {protocol!r}")
    proto: Literal["miot", "legacy"] = "miot" if protocol == "miot" else "legacy"
    if token is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", token):
        raise UsageError("--token must be 32 hex characters")
    cd: tuple[int, int] | None = None
    if countdown is not None:
        if not (m := re.fullmatch(r"(\d+):(\d+)", countdown)):
            raise UsageError(f"--countdown must be SIID:PIID, e.g. 2:5, not {countdown!r}")
        cd = (int(m.group(1)), int(m.group(2)))
    generated = token is None
    token = token or secrets.token_hex(16)
    burner = Burner("burner")
    settings = MiioSimSettings(
        host or "", token, protocol=proto, wiring=wiring, countdown=cd,
        countdown_unit_s=countdown_unit, loss=loss, latency_s=latency,
        energised=wiring is Wiring.NORMALLY_OPEN,
    )
    device = MiioSimDevice(settings, burner, on_change=lambda what: print(what, flush=True))

    async def serve() -> None:
        try:
            await device.start()
        except OSError as err:
            raise UsageError(f"cannot serve on {host}:54321: {err.strerror}") from None
        print(f"simulated {settings.model} ({protocol}, {wiring.value}) "
              f"on {settings.host}:54321", flush=True)
        if generated:
            # A simulator's own throw-away token: the user needs it to configure a burner.
            print(f"token: {token}", flush=True)
        print("Ctrl-C stops", flush=True)
        if lit:
            await asyncio.to_thread(light, burner)
        try:
            await watch(burner)
        finally:
            device.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


register(app)  # stove sim mqtt
