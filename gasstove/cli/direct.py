"""Acting on the relays from this process (no daemon), without typer.

The full command line (:mod:`.main`) and the entry point's one-shot path
(:mod:`.fast`: ``stove off``, ``lock``, ``unlock`` with no daemon running)
both act through here, so a one-shot shut-off does not load typer (~60 ms of
its start) and says and does what the full command line does. The whole
configuration is validated before anything is sent (docs/design.md §2 rule 6).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .results import answer, print_results

if TYPE_CHECKING:
    from ..control import Outcome, Stove
    from ..domain.config import Config
    from ..domain.config_source import ConfigSource

T = TypeVar("T")


def load(path: Path, warnings: list[str] | None = None, *,
         secrets_needed: bool = True) -> tuple[Config, ConfigSource]:
    """The configuration and the file it came from. What the user should fix but that
    does not stop us (a secret others may read) is printed, or added to ``warnings``
    for the caller to report.

    ``secrets_needed=False``: for commands that send nothing to a stove (parse,
    history, check --offline); such a configuration never drives a relay.
    """
    from ..adapters.config_file import load_config_source

    found: list[str] = []
    unset: list[str] | None = None if secrets_needed else []
    config, source = load_config_source(path, warnings=found, unset=unset)
    if warnings is not None and unset:
        warnings += unset  # (only a check lists them: the others did not need them)
    if warnings is None:
        for warning in found:
            print(f"warning: {warning}", file=sys.stderr)
    else:
        warnings += found
    return config, source


def resolve(config: Config, words: list[str]) -> list[str]:
    from ..control import Stove

    return Stove(config.stove, {}).resolve(words)


def via_daemon(config: Config, source: ConfigSource | None, request: dict[str, Any], *,
               as_json: bool, action: str, origin: str = "cli") -> int | None:
    """Hand the command to a daemon that started since we looked: its exit code, or None."""
    from ..adapters.config_file import DaemonRoute

    return answer(DaemonRoute.of(config, source), request, as_json=as_json, action=action,
                  source=origin)


def run_with_stove(config: Config, act: Callable[[Stove], Awaitable[T]]) -> T:
    """Build the relays, run ``act``, and always close the relays.

    The burners' records are the daemon's (locks, pulses cut short), and an
    action here waits for one the daemon or another command has under way.
    """
    from ..adapters.burner_guard import FileBurnerGuard
    from ..adapters.relays import build_relays
    from ..control import Stove

    async def main() -> T:
        stove = Stove(config.stove, build_relays(config),
                      guard=FileBurnerGuard(config.daemon.burners_path()))
        try:
            return await act(stove)
        finally:
            await stove.close()

    return run(main())


def run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coro)


def act(config: Config, action: str, names: list[str], *, as_json: bool,
        source: str = "cli") -> int:
    """Act on the relays (``shut_off``, ``lock``, ``unlock``), put it on the record, print
    the results; the exit code."""

    async def each(stove: Stove) -> list[Outcome]:
        outcomes: list[Outcome] = await getattr(stove, action)(names)
        await record_outcomes(config, outcomes, source=source)
        return outcomes

    outcomes = run_with_stove(config, each)
    return print_results([o.as_json() for o in outcomes], as_json=as_json,
                         stove_name=config.stove.name, action=action)


async def record_outcomes(config: Config, outcomes: list[Outcome], *, source: str) -> None:
    """History row and failure alerts for a one-shot action (the daemon does its own)."""
    import os

    from ..adapters.history import EventLog
    from ..adapters.local_socket import user_label
    from ..records import Recorder

    log = EventLog.open(config.daemon.database_path())
    recorder = Recorder(config.stove.name, log, on_failure=config.alerts.on_failure,
                        log_alerts=False)
    try:
        await recorder.outcomes(outcomes, source=source, requested_by=user_label(os.getuid()))
    finally:
        if log is not None:
            log.close()


def one_shot(path: Path, action: str, burners: list[str], *, as_json: bool) -> int:
    """``stove off`` (now), ``lock`` or ``unlock`` when no daemon answered: the exit code.

    As the full command line does it: the whole file validated, the burner
    words resolved, a daemon that started meanwhile asked once more, then the
    relays driven from here.
    """
    config, source = load(path)
    names = resolve(config, burners)
    request = {"action": "off" if action == "shut_off" else action, "burners": names}
    code = via_daemon(config, source, request, as_json=as_json, action=action)
    if code is not None:
        return code
    return act(config, action, names, as_json=as_json)
