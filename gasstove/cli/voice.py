"""``stove parse`` and ``stove say``: the voice grammar from a terminal.

``main.py`` wires them in with :func:`register`, handing over how to load the
stove's configuration and how to act, so ``say`` goes through exactly the
same path as ``stove off`` / ``cancel`` / ``status``. Errors are raised as
:class:`~gasstove.domain.errors.GasstoveError` for main.py to print as one line
with its exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from ..domain.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from ..domain.config import StoveConfig
    from ..domain.voice import VoiceCommand


class Lang(StrEnum):
    auto = "auto"
    zh = "zh"
    en = "en"


LangOption = Annotated[
    Lang, typer.Option("--lang", help="Language of the utterance; auto guesses from the text.")
]
Utterance = Annotated[str, typer.Argument(help='What was said, e.g. "二十分钟后关火".')]


class Act(Protocol):
    """Carries out an understood command; ``wait``: with no daemon, this process holds a
    delayed shut-off's timer (as `stove off --wait`). Returns the exit code."""

    def __call__(self, command: VoiceCommand, *, wait: bool = False) -> int: ...


def _config_missing(err: Exception) -> bool:
    # The loader reports a missing file as a ConfigError raised while handling
    # FileNotFoundError; every other ConfigError means a file that is there and wrong.
    return isinstance(err, FileNotFoundError) or isinstance(err.__context__, FileNotFoundError)


def _burners(load_stove_config: Callable[[], StoveConfig]) -> Mapping[str, Sequence[str]]:
    """Configured burner names and aliases; none (built-in words only) without a config file."""
    try:
        stove = load_stove_config()
    except (ConfigError, FileNotFoundError) as err:
        if _config_missing(err):
            return {}
        raise
    return {name: burner.aliases for name, burner in stove.burners.items()}


def _need_hassil() -> None:
    """Refuse in one line, naming the install command that works where the user is: in a
    checkout (an editable install) ``pip install 'gasstove[voice]'`` would fetch another
    gasstove over this one."""
    import importlib.util

    if importlib.util.find_spec("hassil") is not None:
        return
    raise UsageError(f"voice commands need hassil (the voice extra): run {install_voice()}")


def install_voice() -> str:
    """The shell command that installs the voice extra into this interpreter."""
    import shlex
    import sys
    from importlib.metadata import PackageNotFoundError, distribution
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    python = shlex.quote(sys.executable)
    try:
        direct = json.loads(distribution("gasstove").read_text("direct_url.json") or "{}")
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH
        root = Path(__file__).resolve().parents[2]
        direct = {"url": root.as_uri(), "dir_info": {"editable": True}}
    url = direct.get("url", "")
    if url.startswith("file:") and direct.get("dir_info", {}).get("editable"):
        checkout = unquote(urlparse(url).path)
        return f"{python} -m pip install -e {shlex.quote(checkout + '[voice]')}"
    return f"{python} -m pip install 'gasstove[voice]'"


def describe(command: VoiceCommand) -> str:
    """One readable line, e.g. "shut_off in 20m, burner left"."""
    from ..domain.durations import format_duration

    if command.intent is None:
        return "not understood (nothing would be done)"
    text: str = command.intent
    if command.delay_s is not None:
        text += f" {'for' if command.intent == 'snooze' else 'in'} {format_duration(command.delay_s)}"
    # no burner said means every burner
    return f"{text}, burner {command.burner or 'all'}"


def register(
    app: typer.Typer,
    load_stove_config: Callable[[], StoveConfig],
    act: Act,
) -> None:
    """Add ``parse`` and ``say`` to ``app``.

    ``load_stove_config`` returns the stove's configuration; when the file
    does not exist it raises FileNotFoundError, or the ConfigError that
    ``gasstove.adapters.config_file.load_config`` raises while handling one.
    ``act`` carries out an understood command (intent not None) the way the
    other commands do and returns the process exit code (docs/design.md §4).
    """

    @app.command("parse")
    def parse(
        utterance: Utterance,
        lang: LangOption = Lang.auto,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Show what an utterance means; touches nothing (works without a config file)."""
        from ..domain.voice import parse_utterance

        _need_hassil()
        command = parse_utterance(utterance, lang=lang.value, burners=_burners(load_stove_config))
        if as_json:
            typer.echo(json.dumps(command.as_json(), ensure_ascii=False))
        else:
            typer.echo(describe(command))

    @app.command("say")
    def say(utterance: Annotated[str, typer.Argument(
                help='What was said, e.g. "二十分钟后关火"; - reads one utterance a line '
                     "from standard input.")],
            lang: LangOption = Lang.auto,
            wait: Annotated[bool, typer.Option(
                "--wait", help="With no daemon, keep this process as the timer of a delayed "
                "shut-off (as `stove off --wait`).")] = False) -> None:
        """Act on an utterance, as `stove off` / `cancel` / `status` would."""
        _need_hassil()
        stove = load_stove_config()
        burners = {name: burner.aliases for name, burner in stove.burners.items()}
        if utterance != "-":
            raise typer.Exit(_say_one(utterance, lang, burners, act, wait=wait))
        raise typer.Exit(_say_lines(sys.stdin, lang, burners, act, wait=wait))


def _say_one(utterance: str, lang: Lang, burners: Mapping[str, Sequence[str]],
             act: Act, heading: str = "", *, wait: bool = False) -> int:
    """``heading``: print it with what was understood before acting."""
    from ..domain.voice import parse_utterance
    from ..domain.voice.say import check_text

    command = parse_utterance(check_text(utterance, "utterance"), lang=lang.value,
                              burners=burners)
    if command.intent is None:
        one_line = " ".join(utterance.split())
        raise UsageError(f"not understood: {one_line!r} (nothing was sent)")
    if heading:
        typer.echo(f"{heading}{describe(command)}")
    return act(command, wait=wait)


def _say_lines(lines: Iterable[str], lang: Lang, burners: Mapping[str, Sequence[str]],
               act: Act, *, wait: bool = False) -> int:
    """``stove say -``: each non-blank line is one `stove say`, its answer printed before
    the next is read. Exit code: 1 if any shut-off was not confirmed (the one a script
    must not miss), else the highest of the lines' codes (2: a line refused)."""
    from ..domain.errors import GasstoveError

    codes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            code = _say_one(line, lang, burners, act, heading=f"line {number}: ", wait=wait)
        except typer.Exit as done:
            code = int(done.exit_code)
        except GasstoveError as err:
            print(f"error: line {number}: {err}", file=sys.stderr)
            code = err.exit_code
        sys.stdout.flush()  # the answer is out before the next line is read
        codes.append(code)
    return 1 if 1 in codes else max(codes, default=0)
