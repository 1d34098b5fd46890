"""A Home Assistant ``switch`` entity as a burner's relay (relay type ``hass``).

Any switch Home Assistant already has (ZHA, Z-Wave, Matter, Tuya, Shelly,
ESPHome's native API...) can open the flame-failure loop. This adapter keeps
the library's :class:`~gasstove.domain.relay.Relay` contract and docs/design.md §2:

* **Confirmed only by the entity's own word after our call.** We listen before
  calling ``switch.turn_on``/``turn_off`` with a context of our own, and count
  only a write of the state asked for heard after the call: a change
  (``state_changed``) or, for a relay that already shows it (a hold: a
  shut-off or timer on a locked burner, a second lock), the same state written
  again (``state_reported``, Home Assistant 2024.4+). The write's context must
  be ours (the entity writes under the context of the service call that drove
  it, for 5 s) or one the entity made itself after our call (a later report:
  no user, no parent, a ULID timestamp after ours). Never the state already
  shown before the call, never a write made under a context older than our
  call (another user's command a moment before ours, its report arriving
  after; a stale state written again). An integration that writes only
  changes (MQTT, ESPHome) cannot confirm a hold: it fails, saying so.
* **No feedback, no confirmation.** An entity with ``assumed_state`` writes
  the state it was asked for without hearing from the device. The config
  flow refuses such entities; should one start to assume its state later,
  the command is still sent (it may well cut) but never reported confirmed.
* **Unavailable is a failure with a reason, at once.** Home Assistant skips
  service calls on unavailable entities without an error (docs/design.md §5), so
  we check first and send nothing; an entity that goes unavailable while we
  wait fails the wait at once, saying the command may have reached it.
* **The pulse is timed by Home Assistant.** No switch service carries a
  firmware timer, so the controller restores, with the crash-safe pulse
  records of :mod:`gasstove.adapters.burner_guard` (the Stove writes them).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from homeassistant.const import ATTR_ASSUMED_STATE, STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Context, Event, HomeAssistant, State, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event, async_track_state_report_event
from homeassistant.util.ulid import ulid_to_bytes

from gasstove import HassRelayConfig, RelayError, RelayOffline, RelayRefused, RelayUnreachable, Unconfirmed


def _state_word(energised: bool) -> str:
    return STATE_ON if energised else STATE_OFF


def _context_ms(context: Context) -> int | None:
    """When a context was made (its id is a ULID: 48 bits of milliseconds), None if unknown."""
    try:
        return int.from_bytes(ulid_to_bytes(context.id)[:6], "big")
    except (ValueError, TypeError):
        return None


def entity_problem(state: State | None) -> str | None:
    """Why ``state`` cannot serve as a relay (an error key of the config flow), None if it can."""
    if state is None:
        return "entity_not_found"
    if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return "entity_unavailable"
    if state.attributes.get(ATTR_ASSUMED_STATE):
        return "entity_assumed_state"
    return None


class HassSwitchRelay:
    """One ``switch`` entity, driven through Home Assistant's own service calls."""

    def __init__(self, hass: HomeAssistant, config: HassRelayConfig) -> None:
        self.hass = hass
        self.entity_id = config.entity_id
        self._describe = config.describe()
        #: What our last command asked for and the context it carried (None: nothing asked).
        self._sent: bool | None = None
        self._context: Context | None = None
        self._sent_ms = 0
        self._before = ""  #: the state shown when our last command was sent
        #: Set by the first write of the entity's since our last command that answers it.
        self._confirmed: asyncio.Event | None = None
        self._gone: str | None = None  #: why the entity became unusable while we waited
        self._unsub: list[Any] = []

    def describe(self) -> str:
        return self._describe

    # -- Relay protocol ---------------------------------------------------------
    async def identify(self, *, deadline: float) -> str:
        state = self._usable()
        return f"{self.entity_id} ({state.attributes.get('friendly_name', state.entity_id)}), {state.state}"

    async def read(self, *, deadline: float) -> bool:
        state = self._usable()
        if state.attributes.get(ATTR_ASSUMED_STATE):
            raise Unconfirmed(f"{self.describe()} has no feedback (assumed_state): its state "
                              "is what it was last asked, not what the device reports")
        if state.state not in (STATE_ON, STATE_OFF):
            raise Unconfirmed(f"{self.describe()} reports {state.state!r}, neither on nor off")
        return state.state == STATE_ON

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        # Nothing is sent to an unavailable entity (Home Assistant would skip it silently).
        self._before = self._usable().state
        self._listen()
        self._gone = None
        self._confirmed = asyncio.Event()
        # A context of our own: the entity writes its next state under it. From here
        # on a change to the state asked for may be the answer, even one written
        # while the service call still runs (most integrations write it there).
        context = self._context = Context()
        self._sent_ms = _context_ms(context) or round(time.time() * 1000)
        self._sent = energised
        service = "turn_on" if energised else "turn_off"
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self.hass.services.async_call(
                    "switch", service, {"entity_id": self.entity_id}, blocking=True,
                    context=context)
        except TimeoutError:
            raise self._maybe(RelayUnreachable(
                f"{self.describe()} did not finish switch.{service} within the deadline"),
                energised) from None
        except HomeAssistantError as err:
            raise self._maybe(RelayRefused(f"{self.describe()} refused switch.{service}: {err}"),
                              energised) from None

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        try:
            await self._wait_for(energised, deadline)
        except RelayError as err:
            if self._sent is None:
                raise
            raise self._maybe(err, self._sent) from None

    async def close(self) -> None:
        for unsub in self._unsub:
            unsub()
        self._unsub = []

    # -- internals ----------------------------------------------------------------
    async def _wait_for(self, energised: bool, deadline: float) -> None:
        confirmed = self._confirmed
        if confirmed is None or self._sent != energised:
            raise Unconfirmed(f"no command asking {self.describe()} for "
                              f"{_state_word(energised)} was sent")
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await confirmed.wait()
        except TimeoutError:
            raise self._silent(energised) from None
        if self._gone is not None:
            raise RelayOffline(f"{self.describe()} {self._gone} while we waited for it to "
                               f"report {_state_word(energised)}")
        # Its latest word must still agree (a relay that bounced back is not cutting).
        state = self.hass.states.get(self.entity_id)
        if state is None or state.state != _state_word(energised):
            shown = state.state if state is not None else "nothing"
            raise Unconfirmed(f"{self.describe()} reported {_state_word(energised)} after the "
                              f"command, then {shown}")

    def _silent(self, energised: bool) -> Unconfirmed:
        """Why nothing confirmed the command by the deadline, as the user will read it."""
        wanted = _state_word(energised)
        state = self.hass.states.get(self.entity_id)
        shown = state.state if state is not None else "nothing"
        if state is not None and state.attributes.get(ATTR_ASSUMED_STATE):
            return Unconfirmed(f"{self.describe()} has no feedback (assumed_state): it cannot "
                               "confirm the command")
        if shown == wanted == self._before:
            return Unconfirmed(f"{self.describe()} already showed {wanted} before the command "
                               "and wrote no state since, so the command cannot be confirmed "
                               "(a hold is confirmed only by the entity writing its state again; "
                               "many integrations write only changes: see 'Holds' in "
                               "docs/home-assistant.md)")
        if shown == wanted:
            return Unconfirmed(f"{self.describe()} shows {wanted}, but not as its answer to the "
                               "command (that state was written under an earlier context)")
        return Unconfirmed(f"no state change from {self.describe()} since the command within "
                           f"the deadline (it shows {shown})")

    def _usable(self) -> State:
        state = self.hass.states.get(self.entity_id)
        if state is None:
            raise RelayUnreachable(f"{self.describe()} does not exist in Home Assistant (removed, "
                                   "or its integration is not loaded)")
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise RelayOffline(f"{self.describe()} is {state.state}: is the device powered and "
                               "reachable by its integration?")
        return state

    def _listen(self) -> None:
        if not self._unsub:
            self._unsub = [track(self.hass, [self.entity_id], self._written) for track in
                           (async_track_state_change_event, async_track_state_report_event)]

    @callback
    def _written(self, event: Event) -> None:
        """A state the entity wrote: changed, or the same again (reported)."""
        confirmed = self._confirmed
        if confirmed is None or confirmed.is_set() or self._sent is None:
            return  # no command waits for an answer
        new: State | None = event.data.get("new_state")
        if new is None or new.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            self._gone = "was removed" if new is None else f"became {new.state}"
            confirmed.set()
            return
        if new.state != _state_word(self._sent):
            return
        if new.attributes.get(ATTR_ASSUMED_STATE):
            return  # the entity's guess of its own command, not the device's word
        # The write's own context: a report leaves the state's context as it was.
        if (self._context is not None and event.context.id == self._context.id) or self._later(event.context):
            confirmed.set()

    def _later(self, context: Context) -> bool:
        """A report the entity wrote under a context of its own made after our call: the
        device answering after the entity's 5 s context window. Not a person's or an
        automation's command (those carry a user or a parent)."""
        made = _context_ms(context)
        return (made is not None and made > self._sent_ms and context.user_id is None
                and context.parent_id is None)

    @staticmethod
    def _maybe(err: RelayError, energised: bool) -> RelayError:
        """The same error, saying the command may have reached the device (the Stove
        then keeps the pulse recorded, to be restored by the next start or command)."""
        amended = type(err)(f"{err}; the command may have reached the device: it may be "
                            f"{_state_word(energised)} now, or still {_state_word(not energised)}")
        amended.may_be_energised = energised
        return amended
