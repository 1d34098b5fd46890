"""Lock: the child/away lock (the loop held open, so the burner cannot be lit).

A lock, not a switch: the entities card's header toggle switches every switch
it lists at once, and one careless tap must not lock (or unlock) every burner.
Unlocking closes the loop again; that cannot open gas -- relighting still
needs a hand on the knob (docs/design.md §1). No "open" feature.

``locked``: the loop is held open and no cut is under way (a lock, or a relay
left cutting: the burner's state sensor says which); ``jammed``: a lock was
asked for but the loop is closed, the burner can be lit; ``unknown``: the
relay does not answer.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.lock import LockEntity, LockEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import GasStoveConfigEntry
from .entity import GasStoveEntity, per_burner

#: Burners are independent: one relay that does not answer must not hold up
#: another burner's lock (the library takes one action at a time per burner).
PARALLEL_UPDATES = 0

LOCK = LockEntityDescription(key="lock", translation_key="lock")


async def async_setup_entry(
    hass: HomeAssistant, entry: GasStoveConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(per_burner(entry.runtime_data, (GasStoveLock, LOCK)))


class GasStoveLock(GasStoveEntity, LockEntity):
    @property
    def is_locking(self) -> bool:
        return self.coordinator.locking.get(self.burner) is True

    @property
    def is_unlocking(self) -> bool:
        return self.coordinator.locking.get(self.burner) is False

    @property
    def is_jammed(self) -> bool:
        data = (self.coordinator.data or {}).get(self.burner)
        return (data is not None and data.locked and data.state == "resting"
                and self.burner not in self.coordinator.acting
                and self.burner not in self.coordinator.locking)

    @property
    def is_locked(self) -> bool | None:
        data = (self.coordinator.data or {}).get(self.burner)
        if data is None or data.state == "unknown":
            return None
        # A burner mid-cut is not locked, even though its loop is open.
        return data.state == "cutting" and self.burner not in self.coordinator.acting

    async def async_lock(self, **kwargs: Any) -> None:
        await self.coordinator.async_lock([self.burner], True, self._context)

    async def async_unlock(self, **kwargs: Any) -> None:
        # The call's context: after a hazard lock only a person (a user) may unlock.
        await self.coordinator.async_lock([self.burner], False, self._context)
