"""Words the integration writes itself, in the language Home Assistant is set to.

Home Assistant's frontend translates what it draws from ``translations/*.json``
(forms, entity names, the toast of a failed call). A persistent notification,
a default name or a list of burners is text the integration writes itself: it
comes from the same files' ``exceptions`` section (the category the backend
reads at any time), English where a language lacks a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import translation

from .const import DOMAIN

CATEGORY = "exceptions"


def language(hass: HomeAssistant) -> Literal["zh", "en"]:
    """The language of what we say (durations, lists): Chinese or English."""
    return "zh" if (hass.config.language or "").lower().startswith("zh") else "en"


def _format(texts: dict[str, str], key: str, values: dict[str, Any]) -> str:
    text = texts.get(f"component.{DOMAIN}.{CATEGORY}.{key}.message", key)
    return text.format(**values)


@callback
def text(hass: HomeAssistant, key: str, **values: Any) -> str:
    """``key``'s message in Home Assistant's language, from the cache filled when the
    integration was set up (English, then the key itself, if it is not there)."""
    for language in (hass.config.language, "en"):
        texts = translation.async_get_cached_translations(hass, language, CATEGORY, DOMAIN)
        if f"component.{DOMAIN}.{CATEGORY}.{key}.message" in texts:
            return _format(texts, key, values)
    return key


async def async_text(hass: HomeAssistant, key: str, **values: Any) -> str:
    """:func:`text` for code that may run before the integration is set up (a config flow)."""
    texts = await translation.async_get_translations(hass, hass.config.language, CATEGORY, {DOMAIN})
    return _format(texts, key, values)


def join_names(hass: HomeAssistant, names: Iterable[str]) -> str:
    """"Left, Right" or "左灶、右灶"."""
    return ("、" if language(hass) == "zh" else ", ").join(names)


def join_clauses(hass: HomeAssistant, clauses: Iterable[str]) -> str:
    """"a; b" or "a；b"."""
    return ("；" if language(hass) == "zh" else "; ").join(clauses)
