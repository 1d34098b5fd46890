"""Shut-off, lock, unlock and status of a stove's burners, for every front end.

The CLI, the daemon and Home Assistant all act through :class:`Stove`, so the
safety rules of DESIGN.md §2 are kept in one place: a shut-off is confirmed by
the relay's own report or reported failed, and a pulse is always restored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .domain.config import ALL_WORDS, StoveConfig
from .domain.durations import format_duration
from .domain.errors import RelayError, UsageError
from .domain.relay import Relay

Action = Literal["shut_off", "lock", "unlock", "status"]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one burner, as the user will read it."""

    burner: str
    action: Action
    ok: bool  #: done and confirmed by the relay's own report
    relay: str  #: "resting", "cutting" or "unknown" after the action
    message: str
    cut_ms: int | None = None  #: request to confirmed cut, for shut-off and lock
    restored: bool | None = None  #: shut-off only: the loop was closed again
    #: On failure: whether the command reached the relay (so it may have acted).
    sent: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Stove:
    def __init__(
        self,
        config: StoveConfig,
        relays: Mapping[str, Relay],
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.relays = relays
        self._sleep = sleep
        self._now = monotonic
        # One action at a time per burner: a timer firing while someone locks
        # must not interleave its restore with the lock.
        self._busy = {name: asyncio.Lock() for name in config.burners}

    def resolve(self, words: Sequence[str]) -> list[str]:
        """Burner names for what the user typed (names, aliases, "all"); none means all."""
        names: dict[str, str] = {}
        for name, burner in self.config.burners.items():
            for word in (name, *burner.aliases):
                names[word.casefold()] = name
        chosen: list[str] = []
        for word in words:
            key = word.strip().casefold()
            if key in ALL_WORDS:
                return list(self.config.burners)
            if key not in names:
                known = ", ".join(self.config.burners)
                raise UsageError(f"unknown burner {word!r} (this stove has: {known})")
            if names[key] not in chosen:
                chosen.append(names[key])
        return chosen or list(self.config.burners)

    async def shut_off(self, burners: Iterable[str]) -> list[Outcome]:
        return await self._each(burners, self._shut_off)

    async def lock(self, burners: Iterable[str]) -> list[Outcome]:
        return await self._each(burners, self._lock)

    async def unlock(self, burners: Iterable[str]) -> list[Outcome]:
        return await self._each(burners, self._unlock)

    async def status(self, burners: Iterable[str]) -> list[Outcome]:
        return await self._each(burners, self._status)

    async def close(self) -> None:
        await asyncio.gather(*(relay.close() for relay in self.relays.values()))

    async def _each(
        self, burners: Iterable[str], act: Callable[[str], Awaitable[Outcome]]
    ) -> list[Outcome]:
        async def one(name: str) -> Outcome:
            async with self._busy[name]:
                return await act(name)

        # Burners are independent: one dead relay must not delay the others' cut.
        return list(await asyncio.gather(*(one(name) for name in burners)))

    def _deadline(self) -> float:
        return self._now() + self.config.deadline

    async def _shut_off(self, name: str) -> Outcome:
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        start = self._now()
        deadline = start + self.config.deadline
        try:
            # A burner already held open is locked (or a cut never finished):
            # pulsing it would end with a restore and silently unlock it.
            if await relay.read(deadline=start + self.config.deadline / 3) == plan.cut:
                return Outcome(
                    name, "shut_off", True, "cutting",
                    "already held off (locked, or an earlier cut did not restore); "
                    f"`stove unlock {name}` lets it be lit again",
                )
        except RelayError:
            pass  # cannot tell: cut anyway, the cut is what matters
        sent = False
        try:
            await relay.switch(
                plan.cut, deadline=deadline,
                pulse_seconds=plan.seconds if plan.device_timed else None,
            )
            sent = True
            await relay.wait_for(plan.cut, deadline=deadline)
        except RelayError as err:
            return Outcome(name, "shut_off", False, "unknown", f"shut-off NOT confirmed: {err}",
                           sent=sent)
        cut_ms = round((self._now() - start) * 1000)
        try:
            await self._sleep(plan.seconds)
        except asyncio.CancelledError:
            # Cancelled mid-pulse (Ctrl-C): still put the loop back so the
            # burner can be relit, then let the cancellation through.
            await asyncio.shield(self._restore(name))
            raise
        restored_err = await self._restore(name)
        if restored_err is not None:
            return Outcome(
                name, "shut_off", False, "cutting",
                f"shut off (confirmed in {cut_ms} ms) but the relay did not restore: "
                f"{restored_err}; the burner cannot be relit until `stove unlock {name}`",
                cut_ms=cut_ms, restored=False,
            )
        return Outcome(
            name, "shut_off", True, "resting",
            f"shut off: loop opened (confirmed in {cut_ms} ms) and closed again after "
            f"{format_duration(plan.seconds)}; relight by hand when wanted",
            cut_ms=cut_ms, restored=True,
        )

    async def _restore(self, name: str) -> RelayError | None:
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        deadline = self._deadline()
        try:
            await relay.switch(plan.rest, deadline=deadline)
            await relay.wait_for(plan.rest, deadline=deadline)
        except RelayError as err:
            return err
        return None

    async def _lock(self, name: str) -> Outcome:
        plan = self.config.burners[name].plan()
        relay = self.relays[name]
        start = self._now()
        deadline = start + self.config.deadline
        sent = False
        try:
            await relay.switch(plan.cut, deadline=deadline)
            sent = True
            await relay.wait_for(plan.cut, deadline=deadline)
        except RelayError as err:
            return Outcome(name, "lock", False, "unknown", f"lock NOT confirmed: {err}", sent=sent)
        cut_ms = round((self._now() - start) * 1000)
        return Outcome(
            name, "lock", True, "cutting",
            f"locked: loop held open (confirmed in {cut_ms} ms); it cannot be lit "
            f"until `stove unlock {name}`",
            cut_ms=cut_ms,
        )

    async def _unlock(self, name: str) -> Outcome:
        err = await self._restore(name)
        if err is not None:
            return Outcome(name, "unlock", False, "unknown", f"unlock NOT confirmed: {err}")
        return Outcome(name, "unlock", True, "resting", "unlocked: it can be lit by hand again")

    async def _status(self, name: str) -> Outcome:
        plan = self.config.burners[name].plan()
        try:
            energised = await self.relays[name].read(deadline=self._deadline())
        except RelayError as err:
            return Outcome(name, "status", False, "unknown", f"relay not reachable: {err}")
        state = plan.describe(energised)
        if state == "cutting":
            message = (
                "held off: the loop is open, the burner cannot be lit "
                f"(locked, or a relay left cutting; `stove unlock {name}` restores)"
            )
        else:
            message = "ready: the loop is closed, the burner works normally"
        return Outcome(name, "status", True, state, message)
