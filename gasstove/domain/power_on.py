"""After a power cut: is the way a relay comes back right for its wiring? Pure.

docs/design.md §1: with ``normally_closed`` wiring an unpowered relay leaves the
loop closed, so the stove works during a power cut; with ``normally_open`` the
loop is open while the power is out, so every lit burner goes out. When the
power comes back the relay does whatever its power-on setting says, with
nobody asking. The only setting that is right whatever happened before the
cut is the wiring's *rest* state (the stove usable, no burner held off):

* it comes back cutting (ON with normally_closed; OFF with normally_open, or
  Tasmota's "on and locked"): every burner is held off after each power cut
  until someone restores it (safe, but the stove looks broken);
* it comes back in its last saved state: a cut under way when the power
  failed (a pulse cut short) comes back as a held cut, and what was "last"
  depends on when the firmware last saved it, which nothing here can know;
* it toggles, follows a wall switch, or times an inverted pulse: it depends
  on something other than our commands.

A lock does not survive a power cut in the rest setting (README, "After a
power cut"): the price of a stove that always comes back usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .plan import Wiring


class PowerOn(StrEnum):
    """What a relay does when its power comes back, in the firmwares' common words."""

    OFF = "off"  #: released
    ON = "on"  #: energised
    LAST = "last"  #: its last saved state
    TOGGLE = "toggle"  #: the opposite of its last saved state
    ON_LOCKED = "on_locked"  #: energised, and refuses every command (Tasmota PowerOnState 4)
    #: Released, then energised by itself after PulseTime (Tasmota PowerOnState 5),
    #: which also turns every later OFF into an OFF pulse.
    OFF_THEN_ON = "off_then_on"
    MATCH_INPUT = "match_input"  #: whatever its wall-switch input says (Shelly Gen2)


@dataclass(frozen=True)
class Finding:
    ok: bool
    says: str  #: what happens after a power cut, in the user's words
    wanted: PowerOn  #: the setting that is right for this wiring


def rest_setting(wiring: Wiring) -> PowerOn:
    """The power-on setting that brings the relay back in this wiring's rest state."""
    return PowerOn.OFF if wiring is Wiring.NORMALLY_CLOSED else PowerOn.ON


def after_power_cut(wiring: Wiring, setting: PowerOn) -> Finding:
    """What ``setting`` does to a stove wired ``wiring`` once the power returns."""
    wanted = rest_setting(wiring)
    cutting = PowerOn.ON if wiring is Wiring.NORMALLY_CLOSED else PowerOn.OFF
    if setting is wanted:
        return Finding(True, "comes back at rest: the stove can be lit as usual "
                       "(a lock does not survive the power cut)", wanted)
    if setting is cutting or (setting is PowerOn.ON_LOCKED
                              and wiring is Wiring.NORMALLY_CLOSED):
        held = " and refuses every command, so not even `stove unlock` restores it" \
            if setting is PowerOn.ON_LOCKED else ""
        return Finding(False, "comes back CUTTING: every burner is held off after each "
                       f"power cut until restored{held}", wanted)
    says = {
        PowerOn.LAST: "comes back in its last saved state: a cut under way when the power "
                      "failed stays cut until restored, and the saved state may be older "
                      "than the last switch",
        PowerOn.TOGGLE: "comes back in the opposite of its last saved state: cutting after "
                        "a power cut while it was at rest",
        PowerOn.ON_LOCKED: "comes back energised and refuses every command: no cut "
                           "can ever be made through it",
        PowerOn.OFF_THEN_ON: "comes back released and switches itself on after PulseTime; "
                             "every OFF becomes a pulse, so a lock or a rest ends by itself",
        PowerOn.MATCH_INPUT: "comes back as its wall-switch input says, not as gasstove "
                             "left it",
    }[setting]
    return Finding(False, says, wanted)


def miio_fix(wanted: PowerOn) -> str:
    """Mi Home relays: no MIoT property for the power-on state is known for the models
    we drive (their spec is not in our configuration), so it is never read or guessed."""
    state = "off" if wanted is PowerOn.OFF else "on"
    return (f"cannot be read over miio: in the Mi Home app set the relay's power-on state "
            f"(\"断电记忆\" / power-off memory) so it comes back {state}; never \"restore\"")
