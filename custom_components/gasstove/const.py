"""Constants of the gasstove integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "gasstove"

# Config entry data: the stove as the library's StoveConfig would take it
# (``name``, ``deadline``, ``burners``), so one model validates YAML and UI input.
CONF_BURNERS: Final = "burners"
CONF_BURNER: Final = "burner"
CONF_RELAY: Final = "relay"
CONF_RELAY_TYPE: Final = "relay_type"
CONF_WIRING: Final = "wiring"
CONF_CUT_SECONDS: Final = "cut_seconds"
CONF_PROTOCOL: Final = "protocol"
CONF_DIALECT: Final = "dialect"
CONF_TOPIC: Final = "topic"
CONF_CHANNEL: Final = "channel"
CONF_DEADLINE: Final = "deadline"
CONF_ENTITY_ID: Final = "entity_id"
#: The stove's own id, given once when the entry is made (entries before 1.2: their
#: unique id then): the device identifier and the base of every entity unique id,
#: so that reconfiguring the relays changes neither.
CONF_STOVE_ID: Final = "stove_id"
# Options
CONF_ALIASES: Final = "aliases"
#: The longest shut-off timer anyone may set, in minutes (0: up to MAX_DELAY_MINUTES).
CONF_LONGEST_TIMER_MINUTES: Final = "longest_timer_minutes"
#: Its name before 0.x: it was labelled "Maximum burn time", which is what
#: CONF_MAX_BURN now is. Entries that still have it keep their limit.
CONF_LEGACY_MAX_BURN_MINUTES: Final = "max_burn_minutes"
#: Per burner: its flame input ({CONF_FLAME_ENTITY, CONF_FLAME_LIT_AT}) and its
#: maximum burn time in minutes (the daemon's ``flame`` and ``max_burn``).
CONF_FLAME: Final = "flame"
CONF_FLAME_ENTITY: Final = "flame_entity"
CONF_FLAME_LIT_AT: Final = "flame_lit_at"
CONF_MAX_BURN: Final = "max_burn"
#: A temperature flame input's "out below" (the library's ``out_below``); entries saved
#: before it read out 5 degrees under ``flame_lit_at``.
CONF_FLAME_OUT_BELOW: Final = "flame_out_below"
LEGACY_FLAME_BAND: Final = 5.0
# The stove guard (options; the library's ``guard`` section): presence and hazard
# entities, away_after in minutes, warn_before in seconds, warnings and notes as
# persistent notifications too.
CONF_PRESENCE: Final = "presence_entity"
CONF_HAZARDS: Final = "hazard_entities"
CONF_AWAY_AFTER: Final = "away_after_minutes"
CONF_WARN_BEFORE: Final = "warn_before_seconds"
CONF_NOTIFY: Final = "guard_notify"
DEFAULT_AWAY_AFTER_MINUTES: Final = 10
DEFAULT_WARN_BEFORE_S: Final = 60

RELAY_MIIO: Final = "miio"
RELAY_MQTT: Final = "mqtt"
#: A ``switch`` entity Home Assistant already has (switch_relay.py).
RELAY_HASS: Final = "hass"

DEFAULT_CUT_SECONDS: Final = 3.0
DEFAULT_DEADLINE: Final = 5.0
#: Longest timer anyone may set (the library's MAX_DELAY_S is 24 h too).
MAX_DELAY_MINUTES: Final = 24 * 60

#: Relay state is read this often; a state change we cause is pushed at once.
SCAN_INTERVAL: Final = timedelta(seconds=30)

STORAGE_VERSION: Final = 1

EVENT_SHUT_OFF: Final = "gasstove_shut_off"
EVENT_SHUT_OFF_FAILED: Final = "gasstove_shut_off_failed"
#: The guard's warning began or ended (burner, reason, seconds_left, cut_at, message).
EVENT_WARNING: Final = "gasstove_warning"
#: The note of every automatic cut, confirmed or not (burner, reason, confirmed, message).
EVENT_AUTOMATIC_SHUT_OFF: Final = "gasstove_automatic_shut_off"

SERVICE_SHUT_OFF: Final = "shut_off"
SERVICE_CANCEL: Final = "cancel"
SERVICE_LOCK: Final = "lock"
SERVICE_UNLOCK: Final = "unlock"
SERVICE_SAY: Final = "say"
SERVICE_SNOOZE: Final = "snooze"

ATTR_BURNERS: Final = "burners"
ATTR_DELAY: Final = "delay"
ATTR_DURATION: Final = "duration"
#: What a snooze gives when no duration is said ("5 more minutes" button).
DEFAULT_SNOOZE_S: Final = 300
ATTR_STOVE: Final = "stove"
ATTR_TEXT: Final = "text"
ATTR_LANGUAGE: Final = "language"
