"""Pydantic field types shared by the configuration models."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator

from .durations import config_seconds
from .errors import DurationError


def seconds_field(minimum: float, maximum: float) -> BeforeValidator:
    """A duration field: a number of seconds, or text such as ``3s`` or ``1h30m``."""

    def convert(value: Any) -> Any:
        try:
            return config_seconds(value, minimum, maximum)
        except DurationError as err:
            raise ValueError(str(err)) from None

    return BeforeValidator(convert)
