"""Errors users see. Each carries the exit code of the docs/design.md §4 contract.

Messages are one line and never contain secrets: callers build them from
names, hosts and keys, never from tokens or passwords.
"""

from __future__ import annotations


class GasstoveError(Exception):
    """Base of every error shown to a user as one line."""

    exit_code = 1


class UsageError(GasstoveError):
    """Bad input from a person or a file; nothing was sent to a stove."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration file is wrong; the message names file, line and key."""


class DurationError(UsageError):
    """A duration could not be understood or is out of bounds."""


class RelayError(GasstoveError):
    """A relay did not do, or did not confirm, what was asked (exit 1)."""

    #: The kind of failure as one word (``Outcome.failure``), for a front end to say
    #: in its user's language; the message says it in English with its details.
    kind = "failed"

    #: A command whose answer never came may still have reached the relay and
    #: been carried out: then the state (energised or not) it may have left the
    #: relay in; None when nothing suggests it acted.
    may_be_energised: bool | None = None


class RelayUnreachable(RelayError):
    """No answer from the relay (or its broker) before the deadline."""

    kind = "no_answer"


class TokenRejected(RelayError):
    """The relay answers its handshake but ignores our encrypted commands."""

    kind = "token_rejected"


class RelayRefused(RelayError):
    """The relay answered with an error."""

    kind = "refused"


class RelayOffline(RelayError):
    """The relay's own availability report (LWT) says it is offline."""

    kind = "offline"


class Unconfirmed(RelayError):
    """The relay answered but its reported state never matched the request."""

    kind = "unconfirmed"
