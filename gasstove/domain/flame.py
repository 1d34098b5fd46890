"""An optional flame input per burner: an MQTT topic that says whether it is lit.

A flame sensor, a thermocouple amplifier or a temperature probe near the
burner, published by whatever firmware reads it. With it, status shows
lit/out and a maximum burn time can shut a forgotten burner off.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FlameInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1, max_length=200, pattern=r"^[^#+\x00]+$")
    #: Dotted path of the value in a JSON payload (e.g. ``flame`` or ``sensor.lit``).
    json_path: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
    lit: str = Field(default="ON", min_length=1, max_length=64)
    out: str = Field(default="OFF", min_length=1, max_length=64)

    def parse(self, payload: bytes) -> bool | None:
        """Lit or not; None when the message is about something else. ParseError on garbage."""
        # Here, not at the top: the dialects package imports every dialect, which a
        # configuration without MQTT would pay on each `stove` start-up (~15 ms).
        from .dialects.base import json_payload, lookup, text, word

        if self.json_path is None:
            return word(text(payload), self.lit, self.out, "flame")
        value = lookup(json_payload(payload), tuple(self.json_path.split(".")))
        if value is None or isinstance(value, bool):
            return value
        return word(value, self.lit, self.out, self.json_path)
