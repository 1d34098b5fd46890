"""Pydantic field types shared by the configuration models."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import BaseModel, BeforeValidator

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


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def check_host(value: str) -> str:
    """An IP address or a host name, refused here when it can be neither.

    A name whose last label is a number is read as an IPv4 address by resolvers
    (``10.1`` is 10.0.0.1 to getaddrinfo, ``192.168.1.300`` a failed DNS lookup at the
    first shut-off): it must then be four numbers 0-255, without leading zeros (which
    some read as octal). The value is named: a host is no secret.
    """
    if ":" in value:
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError(f"{value} is not a valid IPv6 address") from None
        return value
    labels = value.removesuffix(".").split(".")
    if labels[-1].isdigit() or labels[-1].lower().startswith("0x"):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value} is not a valid IPv4 address (four numbers 0-255, "
                             "no leading zeros)") from None
        return value
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value} is neither an IP address nor a host name (letters, digits "
                         "and inner dashes, between dots)")
    return value


#: Each distinct set of field names given, once (see :func:`share_fields_set`).
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def share_fields_set(model: BaseModel) -> None:
    """Give ``model`` the one set object of the field names it was given, shared with
    every model given the same names. pydantic keeps a set of its own per model
    (216 bytes; a quarter of a burner's models, at ten thousand burners 4 MB of a
    daemon's memory); the configuration's models are frozen, and pydantic copies the
    set before changing it (``model_copy``), so one set can serve them all."""
    given = model.__pydantic_fields_set__
    shared = _FIELDS_SETS.get(key := frozenset(given))
    if shared is None:
        shared = _FIELDS_SETS[key] = set(key)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
