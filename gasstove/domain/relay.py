"""What the application needs from a relay, whatever the transport.

States are the relay's own: ``energised`` means the coil is powered. Only
:class:`~gasstove.domain.plan.CutPlan` turns that into "cutting"/"resting".
Deadlines are absolute ``time.monotonic()`` instants: a call gives up, with a
:class:`~gasstove.domain.errors.RelayError`, once its deadline has passed.
"""

from __future__ import annotations

from typing import Literal, Protocol

#: What a relay's report means for the burner's loop, as every front end says it (and as
#: JSON, MQTT and Home Assistant carry it): ``cutting`` holds the loop open, ``resting``
#: lets the stove work, ``unknown``: no report (unreachable, or not read yet).
RelayState = Literal["resting", "cutting", "unknown"]


class Relay(Protocol):
    def describe(self) -> str:
        """Where the relay is, for messages (never a secret)."""
        ...

    async def identify(self, *, deadline: float) -> str:
        """What the device says it is (model, firmware, availability)."""
        ...

    async def read(self, *, deadline: float) -> bool:
        """The relay's own report of whether it is energised."""
        ...

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        """Ask for ``energised``; with ``pulse_seconds`` the device returns by itself.

        The request must be idempotent (a set, never a toggle): transports
        retry, and a retried toggle would undo itself.
        """
        ...

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        """Return once the device itself reports ``energised``; raise otherwise."""
        ...

    async def close(self) -> None: ...
