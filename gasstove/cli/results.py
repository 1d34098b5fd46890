"""Per-burner results as a terminal shows them, and a running daemon's answers.

Used by the fast entry point (:mod:`.fast`) and the full command line
(:mod:`.main`) alike, so both print the same lines; kept apart from both so
neither imports the other's module back.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..domain.errors import GasstoveError, UsageError

if TYPE_CHECKING:
    from ..adapters.config_file import DaemonRoute
    from ..domain.answers import Answer


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


def print_results(results: list[Answer], *, as_json: bool, stove_name: str,
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


def _guard_text(r: Answer) -> str:
    """The stove guard's part of a burner's line: lit or out, and a standing warning."""
    text = ""
    if r.get("action") == "status" and r.get("flame") in _FLAME:
        text += f"; {_FLAME[r['flame']]}"
    if warning := r.get("warning"):
        # (an ISO instant: print_results shows it in the reader's zone, as every other)
        text += f"; WARNING: {warning['message']} (at {warning['cut_at']})"
    return text
