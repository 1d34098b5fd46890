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

SERVICE_SHUT_OFF: Final = "shut_off"
SERVICE_CANCEL: Final = "cancel"
SERVICE_LOCK: Final = "lock"
SERVICE_UNLOCK: Final = "unlock"
SERVICE_SAY: Final = "say"

ATTR_BURNERS: Final = "burners"
ATTR_DELAY: Final = "delay"
ATTR_STOVE: Final = "stove"
ATTR_TEXT: Final = "text"
ATTR_LANGUAGE: Final = "language"
