"""The ``stove`` entry point: a command a running daemon answers, answered before typer loads.

``stove status``, ``off [--in]``, ``cancel``, ``lock`` and ``unlock`` with plain
arguments are handed to a running ``stove serve`` from here, with the standard
library, PyYAML and a few small gasstove modules: no typer (~70 ms), no
pydantic, no python-miio. With no daemon answering, a plain ``off`` (now),
``lock`` or ``unlock`` acts on the relays from here too (:mod:`.direct`, still
without typer). Anything else (help, other commands or options, ``off --in``
with no daemon) goes to the full command line in :mod:`.main`, which then says
and does what it always did.
``stove --version`` alone is answered here too. The figures are in bench/README.md.
"""

from __future__ import annotations

import atexit
import gc
import sys
from typing import Any

from ..domain.errors import GasstoveError
from .results import answer, for_people

#: The commands a daemon answers from here.
_DAEMON_COMMANDS = ("status", "off", "cancel", "lock", "unlock")


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``stove``): one-line errors with the contract's exit codes."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # (main.py reads it too, for --help and with --config)
        from . import version_line

        print(version_line())
        sys.exit(0)
    if argv is None:  # the `stove` process itself, which ends with this call
        # Most of what it imported (pydantic, the models, typer) is alive at exit,
        # and the interpreter's last cycle collections would walk all of it
        # (~60 ms of every command). Python does not promise finalizers for
        # objects alive at exit anyway; atexit handlers and flushes still run.
        atexit.register(gc.freeze)
    if (plain := _plain_daemon_command(args)) is not None:
        try:
            code = _ask(*plain)
            if code is None and "delay_s" not in plain[1]:  # no daemon: act from here
                code = _one_shot(*plain, process=argv is None)
        except GasstoveError as err:
            print(f"error: {for_people(str(err))}", file=sys.stderr)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        if code is not None:
            sys.exit(code)
    from .main import main as full

    full(argv)


def _plain_daemon_command(args: list[str]) -> tuple[str | None, dict[str, Any], bool] | None:
    """(--config, the request, --json) of a daemon command written plainly, else None.

    Only forms the full command line reads the same way: any other option, a
    value that looks like an option, or a repeated one is left to it.
    """
    config, rest = None, list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in ("-c", "--config") and rest and rest[0][:1] not in ("-", ""):
            config = rest.pop(0)
        elif option.startswith("--config=") and option != "--config=":
            config = option.removeprefix("--config=")
        else:
            return None
    if not rest or rest[0] not in _DAEMON_COMMANDS:
        return None
    action = rest.pop(0)
    burners: list[str] = []
    as_json, delay = False, None
    while rest:
        arg = rest.pop(0)
        if arg == "--json" and not as_json:
            as_json = True
        elif action == "off" and arg == "--in" and delay is None and rest \
                and rest[0][:1] not in ("-", ""):
            delay = rest.pop(0)
        elif action == "off" and arg.startswith("--in=") and delay is None:
            delay = arg.removeprefix("--in=")
        elif arg[:1] in ("-", ""):
            return None
        else:
            burners.append(arg)
    request: dict[str, Any] = {"action": action, "burners": burners}
    if delay is not None:
        request["delay_s"] = delay  # (text: parsed in _ask, where errors are answered)
    return config, request, as_json


def _ask(config: str | None, request: dict[str, Any], as_json: bool) -> int | None:
    """The exit code once the daemon answered; None if it did not (or the file needs the
    full load to say what is wrong with it)."""
    from pathlib import Path

    from ..adapters.config_file import daemon_route, default_config_path

    if "delay_s" in request:
        from ..domain.durations import parse_duration

        request["delay_s"] = parse_duration(request["delay_s"])  # (the full CLI's first check)
    route = daemon_route(Path(config) if config else default_config_path())
    if route is None:
        return None
    action = "shut_off" if request["action"] == "off" else request["action"]
    return answer(route, request, as_json=as_json, action=action)


def _one_shot(config: str | None, request: dict[str, Any], as_json: bool, *,
              process: bool = False) -> int | None:
    """``off`` (now), ``lock`` or ``unlock`` with no daemon: the exit code; None for the rest.
    ``process``: called by the ``stove`` process itself (see :func:`_models_built`)."""
    if request["action"] not in ("off", "lock", "unlock"):
        return None
    if process:
        # A one-shot process does a bounded amount of work and exits (within its
        # deadlines and one pulse): the cycle collector would only walk, again and
        # again, the objects pydantic and the models build while they load.
        gc.disable()
        _models_built()
    from pathlib import Path

    from ..adapters.config_file import default_config_path
    from .direct import one_shot

    action = "shut_off" if request["action"] == "off" else request["action"]
    return one_shot(Path(config) if config else default_config_path(), action,
                    request["burners"], as_json=as_json)



def _models_built() -> None:
    """Build the configuration models without pydantic's plugin scan (a read of every
    installed distribution's entry points, ~15 M instructions of the one-shot's ~900 M).

    ``PYDANTIC_DISABLE_PLUGINS`` is pydantic's documented switch; gasstove ships no
    plugin, and a plugin (logfire's, say) would only have observed the validation of
    this file. A user who set the switch, to anything (``""`` loads plugins), is obeyed;
    it is unset again once the models are built, so the programs this process starts
    (alerts) get the environment the user gave it. Only in the ``stove`` process: an
    in-process caller may have other threads reading the environment.
    """
    import os

    ours = "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    if ours:
        os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    try:
        from ..domain import config  # noqa: F401 (its models are built on import)
    finally:
        if ours:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
