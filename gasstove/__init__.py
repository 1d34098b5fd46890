"""gasstove: timed, remote and voice shut-off for a gas stove's flame-failure loop."""

__version__ = "0.1.0"

# The library's public face: front ends outside this package (the Home Assistant
# integration, scripts) import these names from ``gasstove`` and nothing deeper.
#
#     from gasstove import Stove, build_relays, load_config
#
#     config = load_config(path)
#     async with Stove(config.stove, build_relays(config)) as stove:
#         outcomes = await stove.shut_off(stove.resolve(["left"]))
#
# Each name is imported from its module on first use: ``import gasstove`` itself
# loads nothing, so the ``stove`` command's fast path (which imports this package
# first) pays nothing for pydantic, python-miio or paho it does not use.
# docs/design.md §3 has the layers these names come from.

TYPE_CHECKING = False  # (typing.TYPE_CHECKING, without importing typing: ~4 ms)

#: Module -> the public names it defines.
_FACE: dict[str, tuple[str, ...]] = {
    "gasstove.control": ("Outcome", "Stove"),
    "gasstove.domain.config": (
        "ALL_WORDS", "BURNER_NAME", "BurnerConfig", "Config", "HassRelayConfig", "MiioRelayConfig",
        "StoveConfig",
    ),
    "gasstove.domain.mqtt_config": ("MqttBrokerConfig", "MqttRelayConfig"),
    "gasstove.domain.plan": ("Wiring",),
    "gasstove.adapters.config_file": ("default_config_path", "load_config", "parse_config"),
    "gasstove.domain.errors": (
        "ConfigError", "DurationError", "GasstoveError", "RelayError", "RelayOffline", "RelayRefused",
        "RelayUnreachable", "TokenRejected", "Unconfirmed", "UsageError",
    ),
    "gasstove.domain.relay": ("Relay", "RelayState"),
    "gasstove.domain.dialects": ("topic_dialects",),
    "gasstove.adapters.relays": ("build_relays",),
    "gasstove.adapters.miio_relay": ("MiioRelay",),
    "gasstove.adapters.mqtt": ("MqttBroker",),
    "gasstove.adapters.mqtt_relay": ("MqttLink", "MqttRelay", "Receiver"),
    "gasstove.adapters.burner_guard": (
        "BurnerBusy", "BurnerGuard", "FileBurnerGuard", "MemoryBurnerGuard",
    ),
    "gasstove.domain.durations": ("format_duration", "parse_duration", "spoken_duration"),
    "gasstove.domain.voice": (
        "HASS_INTENTS", "NOT_UNDERSTOOD_INTENT", "VoiceCommand", "parse_delay", "parse_utterance",
        "sentence_data",
    ),
    "gasstove.domain.voice.reply": ("REPLIES", "join_names", "status_part", "status_sentence"),
    "gasstove.timer_policy": ("cut_confirmed", "retry_pause", "shut_off_with_retries"),
    "gasstove.domain.flame": ("FlameInput", "MqttInput", "flame_word", "temperature_lit"),
    "gasstove.domain.guard": (
        "HAZARD_RETRY_S", "RETRY_S", "Guard", "Look", "Pending", "SnoozeRefused", "cut_text",
        "warning_text", "what_it_knows",
    ),
    "gasstove.domain.guard_config": ("HAZARD_WORDS", "GuardConfig", "HazardInput", "PresenceInput"),
}
_MODULE_OF = {name: module for module, names in _FACE.items() for name in names}

if TYPE_CHECKING:
    from .adapters.burner_guard import BurnerBusy, BurnerGuard, FileBurnerGuard, MemoryBurnerGuard
    from .adapters.config_file import default_config_path, load_config, parse_config
    from .adapters.miio_relay import MiioRelay
    from .adapters.mqtt import MqttBroker
    from .adapters.mqtt_relay import MqttLink, MqttRelay, Receiver
    from .adapters.relays import build_relays
    from .control import Outcome, Stove
    from .domain.config import (
        ALL_WORDS,
        BURNER_NAME,
        BurnerConfig,
        Config,
        HassRelayConfig,
        MiioRelayConfig,
        StoveConfig,
    )
    from .domain.dialects import topic_dialects
    from .domain.durations import format_duration, parse_duration, spoken_duration
    from .domain.errors import (
        ConfigError,
        DurationError,
        GasstoveError,
        RelayError,
        RelayOffline,
        RelayRefused,
        RelayUnreachable,
        TokenRejected,
        Unconfirmed,
        UsageError,
    )
    from .domain.flame import FlameInput, MqttInput, flame_word, temperature_lit
    from .domain.guard import (
        HAZARD_RETRY_S,
        RETRY_S,
        Guard,
        Look,
        Pending,
        SnoozeRefused,
        cut_text,
        warning_text,
        what_it_knows,
    )
    from .domain.guard_config import HAZARD_WORDS, GuardConfig, HazardInput, PresenceInput
    from .domain.mqtt_config import MqttBrokerConfig, MqttRelayConfig
    from .domain.plan import Wiring
    from .domain.relay import Relay, RelayState
    from .domain.voice import (
        HASS_INTENTS,
        NOT_UNDERSTOOD_INTENT,
        VoiceCommand,
        parse_delay,
        parse_utterance,
        sentence_data,
    )
    from .domain.voice.reply import REPLIES, join_names, status_part, status_sentence
    from .timer_policy import cut_confirmed, retry_pause, shut_off_with_retries

__all__ = [
    "ALL_WORDS",
    "BURNER_NAME",
    "HASS_INTENTS",
    "HAZARD_RETRY_S",
    "HAZARD_WORDS",
    "NOT_UNDERSTOOD_INTENT",
    "REPLIES",
    "RETRY_S",
    "BurnerBusy",
    "BurnerConfig",
    "BurnerGuard",
    "Config",
    "ConfigError",
    "DurationError",
    "FileBurnerGuard",
    "FlameInput",
    "GasstoveError",
    "Guard",
    "GuardConfig",
    "HassRelayConfig",
    "HazardInput",
    "Look",
    "MemoryBurnerGuard",
    "MiioRelay",
    "MiioRelayConfig",
    "MqttBroker",
    "MqttBrokerConfig",
    "MqttInput",
    "MqttLink",
    "MqttRelay",
    "MqttRelayConfig",
    "Outcome",
    "Pending",
    "PresenceInput",
    "Receiver",
    "Relay",
    "RelayError",
    "RelayOffline",
    "RelayRefused",
    "RelayState",
    "RelayUnreachable",
    "SnoozeRefused",
    "Stove",
    "StoveConfig",
    "TokenRejected",
    "Unconfirmed",
    "UsageError",
    "VoiceCommand",
    "Wiring",
    "__version__",
    "build_relays",
    "cut_confirmed",
    "cut_text",
    "default_config_path",
    "flame_word",
    "format_duration",
    "join_names",
    "load_config",
    "parse_config",
    "parse_delay",
    "parse_duration",
    "parse_utterance",
    "retry_pause",
    "sentence_data",
    "shut_off_with_retries",
    "spoken_duration",
    "status_part",
    "status_sentence",
    "temperature_lit",
    "topic_dialects",
    "warning_text",
    "what_it_knows",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its module the first time it is asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'gasstove' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # (asked once: later lookups find it without this hook)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
