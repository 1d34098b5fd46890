"""The ``stove`` entry point: a command a running daemon answers, answered before typer loads.

``stove status``, ``off [--in]``, ``cancel``, ``lock`` and ``unlock`` with plain
arguments are handed to a running ``stove serve`` from here, with the standard
library, PyYAML and a few small gasstove modules: no typer (~70 ms), no
pydantic, no python-miio. With no daemon answering, a plain ``off`` (now),
``lock`` or ``unlock`` acts on the relays from here too (:mod:`.direct`, still
without typer). Anything else (help, other commands or options, ``off --in``
with no daemon) goes to the full command line in :mod:`.main`, which then says
and does what it always did. The figures are in bench/README.md.
"""

from __future__ import annotations

import atexit
import gc
import sys
from typing import TYPE_CHECKING, Any

from ..domain.errors import GasstoveError, UsageError

if TYPE_CHECKING:
    from ..adapters.config_file import DaemonRoute

#: The commands a daemon answers from here.
_DAEMON_COMMANDS = ("status", "off", "cancel", "lock", "unlock")


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``stove``): one-line errors with the contract's exit codes."""
    if argv is None:  # the `stove` process itself, which ends with this call
        # Most of what it imported (pydantic, the models, typer) is alive at exit,
        # and the interpreter's last cycle collections would walk all of it
        # (~60 ms of every command). Python does not promise finalizers for
        # objects alive at exit anyway; atexit handlers and flushes still run.
        atexit.register(gc.freeze)
    if (plain := _plain_daemon_command(sys.argv[1:] if argv is None else argv)) is not None:
        try:
            code = _ask(*plain)
            if code is None and "delay_s" not in plain[1]:  # no daemon: act from here
                code = _one_shot(*plain)
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


def _one_shot(config: str | None, request: dict[str, Any], as_json: bool) -> int | None:
    """``off`` (now), ``lock`` or ``unlock`` with no daemon: the exit code; None for the rest."""
    if request["action"] not in ("off", "lock", "unlock"):
        return None
    from pathlib import Path

    from ..adapters.config_file import default_config_path
    from .direct import one_shot

    action = "shut_off" if request["action"] == "off" else request["action"]
    return one_shot(Path(config) if config else default_config_path(), action,
                    request["burners"], as_json=as_json)


def answer(route: DaemonRoute, request: dict[str, Any], *, as_json: bool, action: str,
           source: str = "cli") -> int | None:
    """Hand the command to the daemon and print its answer: the exit code, or None if no
    daemon listens. A refusal (a bad burner name...) raises, as from this process."""
    from .client import ask_daemon

    request = {**request, "source": source}
    if route.source is not None:  # the daemon refuses it unless it runs this very file
        request["config"] = route.source.as_json()
    reply = ask_daemon(route.socket, request, route.reply_timeout)
    if reply is None:
        return None
    if route.warning:
        print(f"warning: {route.warning}", file=sys.stderr)
    if "error" in reply:
        code = reply.get("exit", 1)
        raise (UsageError if code == 2 else GasstoveError)(str(reply["error"]))
    in_force = _status_in_force(route, reply.get("daemon")) if action == "status" else None
    return print_results(reply["burners"], as_json=as_json, stove_name=route.stove_name,
                         action=action, in_force=in_force)


def print_results(results: list[dict[str, Any]], *, as_json: bool, stove_name: str,
                  action: str, in_force: dict[str, Any] | None = None) -> int:
    """Print per-burner results (one JSON object, or a line each); the exit code.

    ``in_force`` (status): which configuration the answer comes from (the file, and
    the daemon that runs it, or None), as a last line or JSON keys."""
    ok = all(r["ok"] for r in results)
    if as_json:
        import json

        print(json.dumps({"stove": stove_name, "action": action, "ok": ok, "burners": results,
                          **(in_force or {})}, ensure_ascii=False))
    else:
        from ..domain.timers import local_clock
        from .countdown import clock_text

        width = max(len(r["burner"]) for r in results)
        for r in results:
            line = f"{r['burner']:<{width}}  {r['message']}"
            # (a shut-off's message says what became of the timer; so does a
            # timer no daemon holds)
            if ((timer := r.get("timer")) and r.get("action") not in ("timer", "shut_off")
                    and timer.get("armed", True)):
                line += (f"; timer: shut-off at {local_clock(timer['due_at'])} "
                         f"(in {clock_text(timer['in_s'])})")
            line += _guard_text(r)
            print(for_people(line), file=sys.stdout if r["ok"] else sys.stderr)
        if in_force is not None:
            print(for_people(_in_force_line(in_force)))
    return 0 if ok else 1


def for_people(text: str) -> str:
    """The instants in a message (the daemon's, in its zone) in this terminal's zone, with
    its offset, and "tomorrow" when it is (``--json`` keeps them as sent)."""
    from datetime import datetime

    from ..domain.timers import show_times

    return show_times(text, now=datetime.now().astimezone())


def _in_force_line(in_force: dict[str, Any]) -> str:
    from ..domain.timers import local_clock

    daemon = in_force["daemon"]
    if daemon is None:
        return f"config {in_force['config']}: no `stove serve` is running; relays read directly"
    path = daemon.get("config")
    shown = path if isinstance(path, str) and path.isprintable() else repr(path)  # one line
    return (f"config {shown}: run by `stove serve` (pid {daemon.get('pid')}) since "
            f"{local_clock(daemon['started_at'])}")


def _status_in_force(route: DaemonRoute, daemon: Any) -> dict[str, Any] | None:
    """The JSON keys (and last line) of a status answer; None if the daemon did not say."""
    if not isinstance(daemon, dict) or route.source is None:
        return None
    return {"config": route.source.path, "daemon": daemon}


#: What a status says of the flame (the daemon's "flame" per burner).
_FLAME = {"lit": "lit", "out": "flame out", "unknown": "flame not heard from yet",
          "no_input": "lit or not: cannot know (no flame input)",
          "no_daemon": "lit or not: only `stove serve` listens to its flame input"}


def _guard_text(r: dict[str, Any]) -> str:
    """The stove guard's part of a burner's line: lit or out, and a standing warning."""
    text = ""
    if r.get("action") == "status" and r.get("flame") in _FLAME:
        text += f"; {_FLAME[r['flame']]}"
    if warning := r.get("warning"):
        # (an ISO instant: print_results shows it in the reader's zone, as every other)
        text += f"; WARNING: {warning['message']} (at {warning['cut_at']})"
    return text
