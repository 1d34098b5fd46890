"""A simulated burner in the foreground of ``stove sim``: lit by hand, its changes printed.

Shared by ``stove sim miio`` (:mod:`.sim`) and ``stove sim mqtt`` (:mod:`.sim_mqtt`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime


def light(burner: object) -> None:
    """Push, turn and hold the knob until the thermocouple holds the valve."""
    from ..sim.burner import Burner
    from ..sim.demo import HOLD_KNOB_S

    assert isinstance(burner, Burner)
    burner.push_and_turn()
    time.sleep(HOLD_KNOB_S)
    burner.release()


async def watch(burner: object) -> None:
    """Print the burner's state whenever flame, valve or loop change."""
    from ..sim.burner import Burner

    assert isinstance(burner, Burner)
    last = None
    while True:
        s = burner.state()
        key = (s.flame, s.valve_open, s.loop_closed)
        if key != last:
            # (the time with its offset, as every time gasstove shows: 18:50:00+08:00)
            clock = datetime.now().astimezone().isoformat(timespec="seconds")[11:]
            print(f"{clock}  {burner.name}: {s.describe()}", flush=True)
            last = key
        await asyncio.sleep(0.05)
