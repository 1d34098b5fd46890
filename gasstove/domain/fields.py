"""Pydantic field types shared by the configuration models."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator

from .durations import parse_duration
from .errors import DurationError


def seconds_field(minimum: float, maximum: float) -> BeforeValidator:
    """A duration field: a number of seconds, or text such as ``3s`` or ``1h30m``."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a duration such as 3s")
        if isinstance(value, int | float):
            if not minimum <= value <= maximum:
                raise ValueError(f"must be between {minimum:g} and {maximum:g} seconds")
            return float(value)
        if isinstance(value, str):
            try:
                return parse_duration(value, minimum=minimum, maximum=maximum)
            except DurationError as err:
                raise ValueError(str(err)) from None
        raise ValueError("must be a duration such as 3s")

    return BeforeValidator(convert)
