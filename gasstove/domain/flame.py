"""MQTT inputs that say yes or no: a burner's flame, and the stove guard's presence and
hazard sensors (:mod:`gasstove.domain.guard`).

A flame sensor, a thermocouple amplifier or a temperature probe near the
burner, published by whatever firmware reads it. With it, status shows
lit/out and a maximum burn time can shut a forgotten burner off.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MqttInput(BaseModel):
    """A topic whose payload (or one JSON value in it) is one of two words, or a JSON
    true/false. Subclasses name the two words the way their users speak of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1, max_length=200, pattern=r"^[^#+\x00]+$")
    #: Dotted path of the value in a JSON payload (e.g. ``flame`` or ``sensor.lit``).
    json_path: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")

    def words(self) -> tuple[str, str]:
        """The payloads for yes and no."""
        raise NotImplementedError

    def parse(self, payload: bytes) -> bool | None:
        """Yes or no; None when the message is about something else. ParseError on garbage."""
        # Here, not at the top: the dialects package imports every dialect, which a
        # configuration without MQTT would pay on each `stove` start-up (~15 ms).
        from .dialects.base import json_payload, lookup, text

        yes, no = self.words()
        if self.json_path is None:
            return self._judge(text(payload), yes, no, self.topic)
        value = lookup(json_payload(payload), tuple(self.json_path.split(".")))
        if value is None or isinstance(value, bool):
            return value
        return self._judge(value, yes, no, self.json_path)

    def _judge(self, value: Any, yes: str, no: str, what: str) -> bool | None:
        from .dialects.base import word

        return word(value, yes, no, what)


class FlameInput(MqttInput):
    lit: str = Field(default="ON", min_length=1, max_length=64)
    out: str = Field(default="OFF", min_length=1, max_length=64)
    #: A stove-top temperature instead of words: lit at or above this...
    lit_above: float | None = Field(default=None, ge=-50, le=1000)
    #: ...and out below this (default ``lit_above``); in between, unchanged, so a
    #: reading hovering at the threshold neither flaps nor restarts max_burn.
    out_below: float | None = Field(default=None, ge=-50, le=1000)

    @model_validator(mode="after")
    def _threshold(self) -> FlameInput:
        if self.out_below is not None and self.lit_above is None:
            raise ValueError("out_below needs lit_above (a temperature flame input)")
        if self.out_below is not None and self.lit_above is not None \
                and self.out_below > self.lit_above:
            raise ValueError("out_below must not be above lit_above")
        return self

    def words(self) -> tuple[str, str]:
        return self.lit, self.out

    def _judge(self, value: Any, yes: str, no: str, what: str) -> bool | None:
        if self.lit_above is None:
            return super()._judge(value, yes, no, what)
        from .dialects.base import ParseError

        try:
            degrees = float(value)
        except (TypeError, ValueError):
            raise ParseError(f"{what} must be a temperature, got {str(value)[:40]!r}") from None
        if degrees != degrees or isinstance(value, bool):
            raise ParseError(f"{what} must be a temperature")
        return temperature_lit(degrees, self.lit_above, self.out_below)


def temperature_lit(degrees: float, lit_above: float, out_below: float | None) -> bool | None:
    """A stove-top temperature read as a flame: lit at or above ``lit_above``, out below
    ``out_below`` (default ``lit_above``), None (unchanged) in between. Home Assistant's
    temperature flame input reads its sensor with it too."""
    if degrees >= lit_above:
        return True
    if degrees < (out_below if out_below is not None else lit_above):
        return False
    return None


def flame_word(has_input: bool, lit: bool | None) -> str:
    """What a burner's flame input says, as status answers give it: lit, out, unknown (not
    heard from yet) or no_input."""
    if not has_input:
        return "no_input"
    return "unknown" if lit is None else "lit" if lit else "out"
