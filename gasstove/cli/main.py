"""``stove``: shut a gas stove's burners off, now or later, from a terminal.

Exit codes (docs/design.md §4): 0 done and confirmed; 1 the stove or a device did
not confirm; 2 usage or configuration error (nothing was sent to a stove).
Heavy imports (python-miio, paho, pydantic, asyncio) happen inside the
commands that need them, and a command a running daemon can take is handed
to it before the configuration models are built, so ``stove --help`` and the
daemon client stay quick (bench/README.md has the figures).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ..domain.errors import GasstoveError, UsageError
from ..domain.timers import local_clock
from .direct import act, run_with_stove
from .direct import load as direct_load
from .direct import resolve as _resolve
from .direct import run as _run
from .results import answer, for_people, print_results

if TYPE_CHECKING:
    from ..adapters.config_file import DaemonRoute
    from ..adapters.mqtt_relay import MqttRelay
    from ..control import Stove
    from ..domain.answers import Answer
    from ..domain.config import Config
    from ..domain.config_source import ConfigSource
    from ..domain.plan import Wiring
    from ..domain.voice import VoiceCommand


def _add_sim(app: typer.Typer) -> None:
    from . import sim

    app.add_typer(sim.app, name="sim")


def _add_ha(app: typer.Typer) -> None:
    from . import ha

    ha.register(app)


#: Sub-command groups imported only when named or listed by ``--help``: the
#: simulator pulls in the MQTT models (~150 ms), ``ha`` its file tools.
_LAZY: dict[str, Callable[[typer.Typer], None]] = {"sim": _add_sim, "ha": _add_ha}


class _Commands(TyperGroup):
    # (click's types: typer >= 0.22 vendors its own click, older typer uses click)
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _LAZY if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in _LAZY and cmd_name not in self.commands:
            holder = typer.Typer()
            _LAZY[cmd_name](holder)
            group = typer.main.get_command(holder)
            self.commands[cmd_name] = group.commands[cmd_name]  # type: ignore[attr-defined]
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="stove",
    cls=_Commands,
    help="Timed, remote and voice shut-off for a gas stove, through a relay in its "
    "flame-failure loop.",
    epilog="Exit codes: 0 done and confirmed; 1 the stove or a device did not confirm "
    "(the action may not have happened); 2 usage or configuration error (nothing was sent "
    "to a stove); 130 interrupted.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state: dict[str, Path | None] = {"config": None}
#: The file the configuration was loaded from (what a daemon must run to act for us).
_loaded: dict[str, ConfigSource] = {}

Burners = Annotated[
    list[str] | None, typer.Argument(help="Burner names or aliases; none means every burner.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", metavar="PATH",
            help="Configuration file (else $GASSTOVE_CONFIG, ./gasstove.yaml, "
            "~/.config/gasstove/config.yaml).",
        ),
    ] = None,
    _version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.")] = False,
) -> None:
    _state["config"] = config


def _print_version(wanted: bool) -> None:
    if wanted:
        from . import version_line

        typer.echo(version_line())
        raise typer.Exit(0)


def config_path() -> Path:
    from ..adapters.config_file import default_config_path

    return _state["config"] or default_config_path()


def load(warnings: list[str] | None = None, *, secrets_needed: bool = True) -> Config:
    """The configuration (see :func:`.direct.load`); the file it came from is kept for
    whatever must ask a daemon to run this very file."""
    config, _loaded["source"] = direct_load(config_path(), warnings, secrets_needed=secrets_needed)
    return config


def report(results: list[Answer], *, as_json: bool, stove_name: str,
           action: str, in_force: dict[str, Any] | None = None) -> NoReturn:
    raise typer.Exit(print_results(results, as_json=as_json, stove_name=stove_name,
                                   action=action, in_force=in_force))


def via_daemon(config: Config | DaemonRoute, request: dict[str, Any], *, as_json: bool,
               action: str, source: str = "cli") -> bool:
    """Hand the command to a running daemon and report its answer; False if none runs."""
    from ..adapters.config_file import DaemonRoute

    route = (config if isinstance(config, DaemonRoute)
             else DaemonRoute.of(config, _loaded.get("source")))
    code = answer(route, request, as_json=as_json, action=action, source=source)
    if code is None:
        return False
    raise typer.Exit(code)


def daemon_first(request: dict[str, Any], *, as_json: bool, action: str) -> None:
    """Hand the command to a running daemon before building the configuration models.

    The daemon resolves the burner words and checks the command against the
    configuration it validated itself (exit 2 on a bad one, as here), so a
    daemon command costs no pydantic. Returns if no daemon answers, or if the
    file needs a full load to explain what is wrong with it.
    """
    from ..adapters.config_file import daemon_route

    if route := daemon_route(config_path()):
        via_daemon(route, request, as_json=as_json, action=action)


def direct(config: Config, action: str, names: list[str], *, as_json: bool,
           source: str = "cli") -> NoReturn:
    """No daemon: act on the relays from this process, and put it on the record."""
    raise typer.Exit(act(config, action, names, as_json=as_json, source=source))


@app.command()
def off(
    burners: Burners = None,
    in_: Annotated[
        str | None, typer.Option("--in", metavar="DURATION", help="Shut off after 20m, 1h30m, 90s...")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", metavar="TIME", help="Shut off at 18:30 (tomorrow if "
                                 "18:30 has passed) or at an ISO time.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="With no daemon, keep this process as the timer.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Shut burners off: open the flame-failure loop for cut_seconds, then restore it."""
    delay = _delay(in_, at)
    daemon_first(_off_request(burners or [], delay), as_json=as_json, action="shut_off")
    config = load()
    shut_off(config, _resolve(config, burners or []), delay, wait=wait, as_json=as_json)


def _off_request(burners: list[str], delay: float | None) -> dict[str, Any]:
    request: dict[str, Any] = {"action": "off", "burners": burners}
    if delay is not None:
        request["delay_s"] = delay
    return request


def shut_off(config: Config, names: list[str], delay: float | None, *, wait: bool = False,
             as_json: bool = False, source: str = "cli") -> NoReturn:
    via_daemon(config, _off_request(names, delay), as_json=as_json, action="shut_off",
               source=source)
    if delay is None:
        direct(config, "shut_off", names, as_json=as_json, source=source)
    if not wait:
        raise UsageError(
            "no `stove serve` daemon is running to hold the timer: start `stove serve`, "
            "or add --wait to keep this terminal as the timer"
        )
    from .countdown import wait_then

    if not wait_then(delay, names):
        raise typer.Exit(0)
    direct(config, "shut_off", names, as_json=as_json, source=source)


@app.command()
def cancel(burners: Burners = None, as_json: JsonFlag = False) -> None:
    """Cancel pending shut-off timers (none named: every burner's)."""
    daemon_first({"action": "cancel", "burners": burners or []}, as_json=as_json, action="cancel")
    config = load()
    cancel_timers(config, _resolve(config, burners or []), as_json=as_json)


def cancel_timers(config: Config, names: list[str], *, as_json: bool = False,
                  source: str = "cli") -> NoReturn:
    from ..adapters.store import StoreError

    request = {"action": "cancel", "burners": names}
    via_daemon(config, request, as_json=as_json, action="cancel", source=source)
    try:
        results = _cancel_stored(config, names, source=source)
    except StoreError as err:
        # A daemon starting meanwhile holds the file: then it can cancel.
        via_daemon(config, request, as_json=as_json, action="cancel", source=source)
        results = [{"burner": n, "action": "cancel", "ok": False, "timer": None,
                    "message": f"could not cancel: {err}, and it did not answer on "
                    f"{config.daemon.socket_path()}; a stored timer may still fire"}
                   for n in names]
    report(results, as_json=as_json, stove_name=config.stove.name, action="cancel")


def _cancel_stored(config: Config, names: list[str], *, source: str) -> list[Answer]:
    """No daemon: drop the named burners' timers from its store, so none fires at its next start.

    The store's lock keeps a daemon from loading the timers while they go; a
    cancel is durable or raises StoreError (it must never say "cancelled"
    about a timer that will still fire).
    """
    import os

    from ..adapters.history import EventLog
    from ..adapters.local_socket import user_label
    from ..adapters.store import Store, StoreError
    from ..domain.timers import iso
    from ..records import Recorder

    idle = "no timer pending (no `stove serve` is running)"
    path = config.daemon.database_path()
    if not path.exists():
        return [{"burner": n, "action": "cancel", "ok": True, "timer": None, "message": idle}
                for n in names]
    store = Store(path)
    try:
        stored = {t.burner: t for t in store.timers()}
        results: list[Answer] = []
        cancelled = []
        for name in names:
            result: Answer = {"burner": name, "action": "cancel", "ok": True, "timer": None,
                              "message": idle}
            if timer := stored.get(name):
                try:
                    store.delete_timer(name)
                except StoreError as err:
                    result.update({"ok": False, "message": f"could not cancel: {err}"})
                else:
                    cancelled.append(timer)
                    result["message"] = (f"timer cancelled (was due {local_clock(timer.due_at)};"
                                         " no `stove serve` was running)")
            results.append(result)
    finally:
        store.close()
    if cancelled and (log := EventLog.open(path)) is not None:
        recorder = Recorder(config.stove.name, log)
        for timer in cancelled:
            recorder.event(timer.burner, "timer_cancelled", source,
                           requested_by=user_label(os.getuid()), reason=f"was due {iso(timer.due_at)}")
        log.close()
    return results


@app.command()
def lock(burners: Burners = None, as_json: JsonFlag = False) -> None:
    """Hold the loop open so the burner cannot be lit until `stove unlock`."""
    daemon_first({"action": "lock", "burners": burners or []}, as_json=as_json, action="lock")
    config = load()
    names = _resolve(config, burners or [])
    if not via_daemon(config, {"action": "lock", "burners": names}, as_json=as_json, action="lock"):
        direct(config, "lock", names, as_json=as_json)


@app.command()
def unlock(burners: Burners = None, as_json: JsonFlag = False) -> None:
    """Close the loop again so the burner can be lit by hand."""
    daemon_first({"action": "unlock", "burners": burners or []}, as_json=as_json, action="unlock")
    config = load()
    names = _resolve(config, burners or [])
    if not via_daemon(config, {"action": "unlock", "burners": names}, as_json=as_json,
                      action="unlock"):
        direct(config, "unlock", names, as_json=as_json)


@app.command()
def status(
    burners: Burners = None,
    as_json: JsonFlag = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every second; Ctrl-C ends.")] = False,
) -> None:
    """Every burner: ready or held off, locked, timer countdown, relay reachable; last, the
    config file in force (the daemon's, since when)."""
    if not watch:
        daemon_first({"action": "status", "burners": burners or []}, as_json=as_json,
                     action="status")
    config = load()
    names = _resolve(config, burners or [])
    if not watch:
        show_status(config, names, as_json=as_json)
    from .countdown import watch_status

    raise typer.Exit(watch_status(lambda: _status_once(config, names)))


def show_status(config: Config, names: list[str], *, as_json: bool = False,
                source: str = "cli") -> NoReturn:
    via_daemon(config, {"action": "status", "burners": names}, as_json=as_json,
               action="status", source=source)

    async def read(stove: Stove) -> list[Answer]:
        burners = config.stove.burners
        return [{**o.as_json(), "locked": stove.locked(o.burner),
                 "flame": "no_daemon" if burners[o.burner].flame else "no_input"}
                for o in await stove.status(names)]

    results = run_with_stove(config, read)
    _add_stored(config, results)
    loaded = _loaded.get("source")
    report(results, as_json=as_json, stove_name=config.stove.name, action="status",
           in_force={"config": loaded.path if loaded else str(config_path()), "daemon": None})


def _add_stored(config: Config, results: list[Answer]) -> None:
    """No daemon: say what its store holds. A stored timer will NOT fire: a failure, loudly."""
    import time

    from ..adapters.store import StoreError, read_stored
    from ..domain.durations import format_duration

    try:
        timers = read_stored(config.daemon.database_path())
    except StoreError as err:
        for r in results:
            r.update({"ok": False, "message": f"{r['message']}; stored timers could not be "
                      f"read ({err}): a timer may be pending that nothing will fire"})
        return
    stored = {t.burner: t for t in timers}
    now = time.time()
    for r in results:
        name = r["burner"]
        timer = stored.get(name)
        r["timer"] = {**timer.as_json(now), "armed": False} if timer else None
        if timer is not None:
            left = timer.due_at - now
            when = (f"in {format_duration(round(left))}" if left >= 1 else
                    f"due {format_duration(max(1, round(-left)))} ago")
            r.update({"ok": False, "message": (
                f"{r['message']}; timer: shut-off at {local_clock(timer.due_at)} ({when}) "
                "will NOT fire: no `stove serve` is running; start it (a late timer fires at "
                f"once) or `stove cancel {name}`")})


def _status_once(config: Config, names: list[str]) -> int:
    """One refresh of `status --watch`: the exit code a plain `status` would give."""
    try:
        show_status(config, names)
    except typer.Exit as done:
        return int(done.exit_code)


@app.command()
def snooze(
    words: Annotated[list[str], typer.Argument(
        metavar="[BURNER...] DURATION",
        help="Burners (none: every burner), then how long: 5m, 10m...")],
    as_json: JsonFlag = False,
) -> None:
    """Push the stove guard's automatic shut-offs back (a warned one too), at most to the
    burner's maximum burn time. The guard lives in `stove serve`."""
    from ..domain.durations import parse_duration

    seconds = parse_duration(words[-1])
    daemon_first({"action": "snooze", "burners": words[:-1], "delay_s": seconds},
                 as_json=as_json, action="snooze")
    config = load()
    snooze_guard(config, _resolve(config, words[:-1]), seconds, as_json=as_json)


def snooze_guard(config: Config, names: list[str], seconds: float, *, as_json: bool = False,
                 source: str = "cli") -> NoReturn:
    via_daemon(config, {"action": "snooze", "burners": names, "delay_s": seconds},
               as_json=as_json, action="snooze", source=source)
    raise UsageError("no `stove serve` daemon is running: the stove guard (its warnings and "
                     "automatic shut-offs) lives there, so there is nothing to snooze")


@app.command()
def history(
    burners: Burners = None,
    since: Annotated[
        str | None, typer.Option(help="How far back: 2h, 3d... or a time, 2026-11-25T08:00.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help=(
        "JSON lines: one event object per line, newest first, nothing when there is none "
        "(the other commands print one object)."))] = False,
) -> None:
    """What was done to the stove, newest first: cuts, timers, locks, failures."""
    from datetime import datetime

    from ..adapters.history import read_events
    from ..domain.history import parse_since

    config = load(secrets_needed=False)
    names = _resolve(config, burners) if burners else []
    since_ms = None
    if since is not None:
        since_ms = int(parse_since(since, datetime.now().astimezone()).timestamp() * 1000)
    events = read_events(config.daemon.database_path(), burners=names, since_ms=since_ms,
                         limit=limit)
    if as_json:
        for event in events:
            print(json.dumps(event.as_json(), ensure_ascii=False))
        return
    if not events:
        print("no events recorded" + (" in that time" if since else " yet"))
        return
    print(f"{'time':<25}  {'burner':<10} {'action':<16} {'result':<11} {'latency':>8}  source")
    for event in events:
        print(event.row())


@app.command()
def serve(
    log_format: Annotated[str, typer.Option(help="text or json (one object per line).")] = "text",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """The daemon: holds timers (surviving restarts) and owns the relays; Ctrl-C stops."""
    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format must be text or json, not {log_format!r}")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise UsageError(f"--log-level must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")
    config = load()
    from ..daemon.run import serve as run_daemon
    from ..daemon.run import setup_logging

    setup_logging(log_format, log_level.upper())
    _run(run_daemon(config, source=_loaded["source"]))


@app.command()
def check(
    as_json: JsonFlag = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Validate the file only: reach no relay, and need no secret "
        "(one from an unset ${VAR} is named as a warning).")] = False,
) -> None:
    """Validate the configuration and reach every relay (nothing is switched)."""
    import asyncio

    from ..adapters.mqtt_relay import MqttRelay

    warnings: list[str] = []
    config = load(warnings, secrets_needed=not offline)
    if offline:
        _report_check(config, [], warnings, as_json=as_json)

    async def probe(stove: Stove) -> list[dict[str, Any]]:
        async def one(name: str) -> dict[str, Any]:
            relay = stove.relays[name]
            row: dict[str, Any] = {"burner": name, "relay": relay.describe(), "ok": False}
            if isinstance(relay, MqttRelay) and (caveat := relay.caveat()) is not None:
                row["warning"] = caveat  # what it cannot confirm: said, never pretended
            try:
                deadline = asyncio.get_running_loop().time() + config.stove.deadline
                row["device"] = await relay.identify(deadline=deadline)
                energised = await relay.read(deadline=deadline)
                row["state"] = config.stove.burners[name].plan().describe(energised)
                row["ok"] = True
            except GasstoveError as err:
                row["error"] = str(err)
                return row
            row["power_on"] = await _power_on_row(relay, config.stove.burners[name].wiring,
                                                  deadline)
            if isinstance(relay, MqttRelay) and relay.dialect.loop_sleep_query():
                row["speed"] = await _speed_row(relay, deadline)
            return row

        return list(await asyncio.gather(*(one(n) for n in config.stove.burners)))

    _report_check(config, run_with_stove(config, probe), warnings, as_json=as_json)


async def _power_on_row(relay: object, wiring: Wiring, deadline: float) -> dict[str, Any]:
    """What the relay does after a power cut and whether that suits its wiring (issue 16).
    Reading only: nothing is switched. ``ok`` is None when it cannot be read."""
    from ..adapters.mqtt_relay import MqttRelay
    from ..domain.power_on import after_power_cut, miio_fix, rest_setting

    wanted = rest_setting(wiring)
    setting = None
    if isinstance(relay, MqttRelay):
        fix = relay.dialect.power_on_fix(wanted)
        try:
            setting = await relay.power_on(deadline=deadline)
        except GasstoveError as err:
            return {"setting": None, "ok": None, "finding": f"not read: {err}", "fix": fix}
    else:
        fix = miio_fix(wanted)
    if setting is None:
        return {"setting": None, "ok": None, "finding": fix, "fix": fix}  # says why
    found = after_power_cut(wiring, setting)
    return {"setting": setting.value, "ok": found.ok, "finding": found.says,
            "fix": None if found.ok else fix}


async def _speed_row(relay: MqttRelay, deadline: float) -> dict[str, Any]:
    """How long a command may wait on the device's own loop (issue 17); advice only:
    it never fails a check. Reading only: nothing is switched."""
    try:
        ms = await relay.loop_sleep(deadline=deadline)
    except GasstoveError as err:
        return {"loop_sleep_ms": None, "says": f"not read: {err}"}
    assert ms is not None  # asked only of a dialect with a loop sleep query
    return {"loop_sleep_ms": ms, "says": relay.dialect.loop_sleep_advice(ms)}


def _report_check(config: Config, rows: list[dict[str, Any]], warnings: list[str], *,
                  as_json: bool) -> NoReturn:
    ok = all(r["ok"] for r in rows)
    from ..domain.guard import what_it_knows

    guard = what_it_knows(config.guard, {n: (b.flame is not None, b.max_burn)
                                         for n, b in config.stove.burners.items()},
                          on_cut=config.alerts.on_cut is not None)
    if as_json:
        print(json.dumps({"config": str(config_path()), "ok": ok, "warnings": warnings,
                          "burners": rows, "guard": guard}, ensure_ascii=False))
    else:
        print(f"{config_path()}: valid, stove {config.stove.name!r}, "
              f"{len(config.stove.burners)} burner(s)" + ("" if rows else "; no relay reached"))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for r in rows:
            detail = f"{r['device']}, {r['state']}" if r["ok"] else f"NOT reachable: {r['error']}"
            print(f"  {r['burner']}: {r['relay']}: {detail}", file=sys.stdout if r["ok"] else sys.stderr)
            if "warning" in r:
                print(f"  {r['burner']}: warning: {r['warning']}", file=sys.stderr)
            if "power_on" in r:
                p = r["power_on"]
                line = f"  {r['burner']}: after a power cut: {p['finding']}"
                if p["fix"] not in (None, p["finding"]):
                    line += f"; fix: {p['fix']}"
                print(line, file=sys.stdout if p["ok"] else sys.stderr)
            if "speed" in r:
                print(f"  {r['burner']}: speed: {r['speed']['says']}")
        print("stove guard (in `stove serve`):")
        for line in guard:
            print(f"  {line}")
    raise typer.Exit(0 if ok else 1)


@app.command()
def demo(
    cut_seconds: Annotated[
        float, typer.Option(min=1, max=30, help="How long the demo's cut holds the loop open.")
    ] = 3.0,
) -> None:
    """Watch the whole loop on simulated hardware: nothing to configure."""
    from ..sim.demo import run_demo

    raise typer.Exit(run_demo(cut_seconds=cut_seconds))


def _delay(in_: str | None, at: str | None) -> float | None:
    from datetime import datetime

    from ..domain.clock_time import parse_at
    from ..domain.durations import parse_duration

    if in_ is not None and at is not None:
        raise UsageError("give either --in or --at, not both")
    if in_ is not None:
        return parse_duration(in_)
    if at is not None:
        now = datetime.now().astimezone()
        return (parse_at(at, now) - now).total_seconds()
    return None


def _act_on_voice(command: VoiceCommand, *, wait: bool = False) -> int:
    """`stove say`: the same paths as `stove off`, `cancel` and `status`."""
    config = load()
    names = _resolve(config, [] if command.burner in (None, "all") else [command.burner])
    if command.intent == "shut_off":
        shut_off(config, names, command.delay_s, wait=wait, source="voice")
    if command.intent == "cancel":
        cancel_timers(config, names, source="voice")
    if command.intent == "snooze":
        assert command.delay_s is not None
        snooze_guard(config, names, command.delay_s, source="voice")
    show_status(config, names, source="voice")


def _register_subcommands() -> None:
    from . import voice

    # (the burners' words need no secret; `say` loads in full before it acts)
    voice.register(app, lambda: load(secrets_needed=False).stove, _act_on_voice)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """The full command line: one-line errors with the contract's exit codes (the ``stove``
    process comes here through :func:`.fast.main`)."""
    try:
        code = app(args=argv, standalone_mode=False)
    except GasstoveError as err:
        print(f"error: {for_people(str(err))}", file=sys.stderr)
        sys.exit(err.exit_code)
    except Exception as err:
        if not _is_usage_error(err):
            raise
        if message := err.format_message():  # type: ignore[attr-defined]
            print(f"error: {message} (see `stove --help`)", file=sys.stderr)
        sys.exit(2)  # (an empty message: no arguments, the help was shown)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _is_usage_error(err: Exception) -> bool:
    """Click's usage errors: typer >= 0.22 vendors click, older typer uses click itself."""
    import click

    bases = [click.ClickException, getattr(typer, "TyperException", click.ClickException)]
    return isinstance(err, tuple(bases))
