"""Load the YAML configuration, with errors that name file, line and key.

``${NAME}`` in any string is replaced by the environment variable NAME, so
tokens and passwords can stay out of the file. Values are never echoed in
errors: a wrong token must not end up in a terminal scroll-back or a log. A
file that holds a token or password itself and that others may read gets a
warning (see :func:`exposed_secret`).

A hostile file is refused before it costs time or memory: more than
:data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH`, or more than
:data:`MAX_VALUES` values once aliases are expanded. Aliases stay allowed
(``cut_seconds: *cut``), but each counts as the whole value it repeats: a
"billion laughs" of nested aliases is refused at the line where it passes the
budget, while it is being composed, instead of being expanded.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

from ..domain.config_source import ConfigSource
from ..domain.defaults import CUT_BOUNDS, CUT_SECONDS, DEADLINE_BOUNDS, DEADLINE_S, STOVE_NAME, socket_path
from ..domain.durations import config_seconds
from ..domain.errors import ConfigError, DurationError

if TYPE_CHECKING:  # pydantic and the models cost ~200 ms: only loading a config imports them
    from pydantic import BaseModel

    from ..domain.config import Config

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LOG = logging.getLogger(__name__)

#: Far above any stove's configuration (config.example.yaml is 5 KB).
MAX_BYTES = 1024 * 1024
#: The schema nests 6 deep (stove.burners.<name>.relay.<key>).
MAX_DEPTH = 32
#: Values (mappings, lists, scalars, keys), aliases expanded; a thousand burners need ~13 000,
#: ten thousand MQTT relays with the default cut ~100 000 (issue 17: one daemon, 10,000 relays).
MAX_VALUES = 120_000
#: The keys whose values are secrets (the models' SecretStr fields: a miio token, the
#: MQTT password).
SECRET_KEYS = ("token", "password")
#: Keys whose value is text even where YAML would read a number (``token: 0011223344``).
TEXT_KEYS = (*SECRET_KEYS, "host")

Path_ = tuple[str | int, ...]
#: Turns YAML scalars into Python values with YAML's own rules (ints, bools...).
_SCALARS = yaml.SafeLoader("")


def default_config_path() -> Path:
    """docs/design.md §4: $GASSTOVE_CONFIG, else ./gasstove.yaml, else ~/.config/gasstove/config.yaml."""
    if env := os.environ.get("GASSTOVE_CONFIG"):
        return Path(env)
    local = Path("gasstove.yaml")
    if local.exists():
        return local
    return Path.home() / ".config" / "gasstove" / "config.yaml"


def load_config(path: Path, *, warnings: list[str] | None = None,
                unset: list[str] | None = None) -> Config:
    return load_config_source(path, warnings=warnings, unset=unset)[0]


def load_config_source(path: Path, *, warnings: list[str] | None = None,
                       unset: list[str] | None = None) -> tuple[Config, ConfigSource]:
    """The validated configuration.

    What the user should fix but that does not stop us (a secret others may
    read) is added to ``warnings``, or logged as a warning when none is given.
    ``unset`` (a list) is for commands that send nothing (parse, history, an
    offline check): a secret from an unset ``${NAME}`` is then not required, and
    is named there; such a configuration must never drive a relay.
    """
    found: list[tuple[str, int]] = []
    text = _read(path)
    config = parse_config(text, str(path), secrets=found, unset=unset)
    _warn(path, found, warnings)
    return config, source_of(path, text)


def source_of(path: Path, text: str) -> ConfigSource:
    """Which file ``text`` was read from, and its bytes' hash: what a daemon is asked to
    match before it acts for a command (:mod:`gasstove.domain.config_source`)."""
    return ConfigSource(os.path.realpath(path), hashlib.sha256(text.encode()).hexdigest())


def _warn(path: Path, secrets: list[tuple[str, int]], warnings: list[str] | None) -> None:
    if secrets and (warning := _exposed(path, *secrets[0])):
        if warnings is None:
            _LOG.warning("warning: %s", warning)
        else:
            warnings.append(warning)


def _exposed(path: Path, key: str, line: int) -> str | None:
    """What to say (and do) about the secret at ``key`` if others may read the file.

    A secret taken from the environment (``${NAME}``) is not in the file: it is not
    passed here.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    readable = [who for who, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH))
                if mode & bit]
    if not readable:
        return None
    return (f"{path}:{line} {key}: a secret in a file that {' and '.join(readable)} can "
            f"read; run `chmod 600 {path}` (or take it from an environment variable, "
            "${NAME})")


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)  # (never more: /dev/zero or a huge file)
        if len(data) > MAX_BYTES:
            raise ConfigError(f"{path}: larger than 1 MiB: not a gasstove configuration")
        return data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no configuration file (copy config.example.yaml there, "
            "or pass --config)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None


@dataclass(frozen=True)
class DaemonRoute:
    """What a client needs to hand a command to a running ``stove serve``."""

    socket: Path
    stove_name: str
    deadline: float
    longest_cut: float
    #: What to tell the user about the file once the daemon answered (a secret others
    #: may read); not before, as a file the daemon does not take is explained in full.
    warning: str | None = None
    #: The file the command names, for the daemon to refuse it if it runs another.
    source: ConfigSource | None = None

    @property
    def reply_timeout(self) -> float:
        """Long enough for a cut, its pulse and the restore, each with its deadline."""
        return 2 * self.deadline + self.longest_cut + 5

    @classmethod
    def of(cls, config: Config, source: ConfigSource | None = None) -> DaemonRoute:
        return cls(config.daemon.socket_path(), config.stove.name, config.stove.deadline,
                   max(b.cut_seconds for b in config.stove.burners.values()), source=source)


def daemon_route(path: Path) -> DaemonRoute | None:
    """The route to the daemon, read from the YAML alone, without building the models.

    Validating the whole file costs ~200 ms of pydantic, more than a daemon
    command's whole budget; the daemon checks each command (burner names,
    delays) against the configuration it validated itself. The few values
    read here go through the models' own converters and defaults. None when
    the file cannot be read this way: :func:`load_config` then names the error.
    A file that is not YAML (or too large) raises the ConfigError that
    :func:`load_config` would, rather than be read twice.
    """
    found: list[tuple[str, int]] = []
    text = _read(path)
    data = _load(text, str(path), None, found, [])
    stove = data.get("stove") if isinstance(data, dict) else None
    daemon = (data.get("daemon") if isinstance(data, dict) else None) or {}
    burners = stove.get("burners") if isinstance(stove, dict) else None
    if not (isinstance(stove, dict) and isinstance(daemon, dict) and isinstance(burners, dict)
            and burners and all(isinstance(b, dict) for b in burners.values())):
        return None
    socket, name = daemon.get("socket"), stove.get("name", STOVE_NAME)
    if not (socket is None or (isinstance(socket, str) and socket)) or not isinstance(name, str):
        return None
    try:
        deadline = config_seconds(stove.get("deadline", DEADLINE_S), *DEADLINE_BOUNDS)
        cut = max(config_seconds(b.get("cut_seconds", CUT_SECONDS), *CUT_BOUNDS)
                  for b in burners.values())
    except DurationError:
        return None
    warnings: list[str] = []
    _warn(path, found, warnings)
    return DaemonRoute(socket_path(Path(socket) if socket else None), name, deadline, cut,
                       warnings[0] if warnings else None, source_of(path, text))


#: libyaml's parser (PyYAML's wheels ship it): PyYAML's own scanner needs ~20 s for a
#: 1 MiB list, and its look-ahead inside "[[[[..." grows with the square of the depth.
_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"


@dataclass
class _Open:
    """A mapping or list being built."""

    value: dict[str, Any] | list[Any]
    path: Path_
    counted: int  #: values counted when it opened
    anchor: str | None
    key: str | None = None  #: a mapping's key waiting for its value


@dataclass(frozen=True)
class _Anchored:
    value: Any
    raw: str | None  #: a scalar's text (a key may be an alias of one), else None
    size: int  #: values, aliases expanded


def _load(text: str, filename: str, lines: dict[Path_, int] | None,
          secrets: list[tuple[str, int]] | None, unset: list[str] | None = None) -> Any:
    """Plain Python data, within the budgets of the module doc; ``lines`` (if given) gets
    each key's (each list item's) line, ``secrets`` the (key, line) of secrets written in the file;
    ``unset`` (when given) what a secret from an unset environment variable is left out of.

    Built here from the parser's events in one pass, not by PyYAML's composer and
    constructor: an alias is the value it names, shared, counted as the whole value
    it repeats, so a "billion laughs" is refused before anything expands it.
    """
    try:
        loader = _PARSER(text)
        try:
            found, data = _build(loader, filename, lines, secrets, unset)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{filename}{line}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:  # e.g. a control character: no line mark
        raise ConfigError(f"{filename}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not found:
        raise ConfigError(f"{filename}: the file is empty (see config.example.yaml)")
    return data


def _build(loader: Any, filename: str, lines: dict[Path_, int] | None,
           secrets: list[tuple[str, int]] | None,
           unset: list[str] | None) -> tuple[bool, Any]:
    """(whether there was a document, its data). ``lines`` None: not recorded.

    Per event it does only what the event needs (ten thousand burners are
    ~140,000 events): a value's place (its path) is built for a container, a
    secret or an error, not for every scalar; YAML's implicit tag of a plain
    scalar is looked up once per distinct text.
    """
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return False, None
    loader.get_event()  # document start
    anchors: dict[str, _Anchored] = {}
    stack: list[_Open] = []
    counted = 0
    get_event, resolve = loader.get_event, loader.resolve
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, ends = yaml.MappingStartEvent, (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    tags: dict[tuple[str, Any], str] = {}
    #: Each distinct text once: libyaml gives every key and value its own new string,
    #: and ten thousand burners repeat "relay", "type", "mqtt"... (held until validated).
    texts: dict[str, str] = {}

    def refuse(problem: str, event: Any) -> NoReturn:
        raise ConfigError(f"{filename}:{event.start_mark.line + 1}: {problem}")

    while True:
        event = get_event()
        kind = type(event)
        raw: str | None = None
        parent = stack[-1] if stack else None
        key: str | int | None = None  #: the value's last step, once ``path`` is built
        is_key = False
        if parent is None:
            pass
        elif isinstance(parent.value, list):
            key = len(parent.value)
        elif parent.key is not None:
            key = parent.key
        else:
            is_key = True
        if kind is scalar_event:
            raw = event.value
            raw = texts.setdefault(raw, raw)
            if is_key:  # (a key is its text: never converted nor taken from the environment)
                value: Any = raw
            else:
                tag = event.tag
                if (tag is None or tag == "!") and (tag := tags.get((raw, event.implicit))) is None:
                    tag = tags[raw, event.implicit] = resolve(yaml.ScalarNode, raw, event.implicit)
                value = raw if tag == _STR else _scalar(tag, event, _path(parent, key), filename)
                if key in TEXT_KEYS and isinstance(value, int | float):
                    # YAML reads ``token: 0011223344`` (octal, even) and ``host: 10.1`` as
                    # numbers: these are the text as typed, judged by the model's own rule
                    # ("must be 32 hex characters"), not "Input should be a valid string".
                    value = raw
                if isinstance(value, str) and ("$" in value or key in SECRET_KEYS):
                    value = _text(value, _path(parent, key), event, filename, secrets, unset)
            counted += 1
            if event.anchor is not None:
                anchors[event.anchor] = _Anchored(value, raw, 1)
        elif kind is alias_event:
            if any(o.anchor == event.anchor for o in stack):  # expanding it would never end
                refuse("an alias refers to the value it is inside of", event)
            if event.anchor not in anchors:
                refuse(f"not valid YAML: the alias *{event.anchor} names no anchor before it",
                       event)
            target = anchors[event.anchor]
            value, raw, size = target.value, target.raw, target.size
            counted += size
        elif kind not in ends:  # the start of a mapping or list
            if len(stack) >= MAX_DEPTH:
                refuse(f"nested more than {MAX_DEPTH} deep", event)
            if is_key:
                refuse("a key must be a plain word", event)
            counted += 1
            path = _path(parent, key)
            if lines is not None:
                lines.setdefault(path, event.start_mark.line + 1)
            stack.append(_Open({} if kind is mapping_start else [], path, counted, event.anchor))
            continue
        else:  # the end of a mapping or list
            done = stack.pop()
            value = done.value
            size = counted - done.counted + 1
            if done.anchor is not None:
                anchors[done.anchor] = _Anchored(value, None, size)
            parent = stack[-1] if stack else None
        if counted > MAX_VALUES:
            refuse(f"more than {MAX_VALUES} values (aliases expanded): not a gasstove "
                   "configuration", event)
        if parent is None:
            if lines is not None:
                lines.setdefault((), event.start_mark.line + 1)
            break
        if isinstance(parent.value, list):
            if lines is not None and kind not in ends:
                lines[(*parent.path, len(parent.value))] = event.start_mark.line + 1
            parent.value.append(value)
        elif parent.key is None:
            if raw is None:
                refuse("a key must be a plain word", event)
            if raw in parent.value:
                raise ConfigError(f"{filename}:{event.start_mark.line + 1} "
                                  f"{_dotted((*parent.path, raw))}: duplicate key")
            parent.key = raw
            if lines is not None:
                lines[(*parent.path, raw)] = event.start_mark.line + 1
        else:
            parent.value[parent.key] = value
            parent.key = None
    get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        refuse_more = get_event().start_mark.line + 1
        raise ConfigError(f"{filename}:{refuse_more}: not valid YAML: expected a single "
                          "document in the stream")
    return True, value


def _path(parent: _Open | None, key: str | int | None) -> Path_:
    """The place of a value whose container is ``parent``, at ``key`` (see ``_build``)."""
    return () if parent is None else (*parent.path, key) if key is not None else parent.path


def _scalar(tag: str, event: Any, path: Path_, filename: str) -> Any:
    """A scalar that is not plain text, with YAML's own rules (ints, bools, null...)."""
    raw = event.value
    if tag == _INT and raw.isdigit() and (raw[0] != "0" or raw == "0"):
        return int(raw)  # (the common case, without PyYAML's constructor: "0755" is octal)
    if tag == _NULL:
        return None
    try:
        return _SCALARS.construct_object(yaml.ScalarNode(tag, event.value, event.start_mark,
                                                         event.end_mark, style=event.style))
    except Exception:  # a tagged scalar PyYAML cannot build ("!0", "!!int abc"): any exception type
        where = _dotted(path)
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise ConfigError(f"{filename}:{event.start_mark.line + 1} {where}: "
                          f"cannot read a value tagged {shown}") from None


def _text(value: str, path: Path_, event: Any, filename: str,
          secrets: list[tuple[str, int]] | None, unset: list[str] | None) -> Any:
    """A text value with ``${NAME}`` taken from the environment; a secret written in the
    file itself is noted in ``secrets``; with ``unset`` (a list), a secret from an unset
    variable is said there and left out (:data:`~gasstove.domain.config.UNSET_SECRET`)."""
    secret = bool(path) and path[-1] in SECRET_KEYS
    if "$" not in value:
        if secrets is not None and secret and value.strip():
            secrets.append((_dotted(path), event.start_mark.line + 1))
        return value
    if secrets is not None and secret and _ENV.sub("", value).strip():
        secrets.append((_dotted(path), event.start_mark.line + 1))
    where = f"{filename}:{event.start_mark.line + 1} {_dotted(path)}"
    missing = [name for name in _ENV.findall(value) if name not in os.environ]
    if missing and unset is not None and secret:
        from ..domain.config import UNSET_SECRET

        unset.append(f"{where}: environment variable {missing[0]} is not set (commands "
                     "that reach the stove need it)")
        return UNSET_SECRET
    if missing:
        raise ConfigError(f"{where}: environment variable {missing[0]} is not set")
    return _ENV.sub(lambda m: os.environ[m.group(1)], value)


def parse_config(text: str, filename: str = "<config>", *,
                 secrets: list[tuple[str, int]] | None = None,
                 unset: list[str] | None = None) -> Config:
    """``secrets`` collects (key, line) of each secret written in the file itself.

    With ``unset`` (a list), a secret taken from an environment variable that is
    not set is not an error: it is said in ``unset`` and left out (see
    :data:`~gasstove.domain.config.UNSET_SECRET`).
    """
    from pydantic import ValidationError

    from ..domain.config import Config

    try:
        with _collector_paused():
            data = _load(text, filename, None, secrets, unset)
            return Config.model_validate(data, context={"unset_secrets": unset is not None})
    except ValidationError as err:
        # Each key's line, for the message: read again, rather than noted for every
        # key of every file that turns out valid.
        lines: dict[Path_, int] = {}
        _load(text, filename, lines, None, [] if unset is not None else None)
        first = err.errors()[0]
        path = _locate(first["loc"], data)
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "union_tag_invalid":
            path = (*path, "type")
            message = f"must be one of: {first.get('ctx', {}).get('expected_tags', '?')}"
        elif first["type"] == "extra_forbidden":
            message = "unknown key" + _suggest(first["loc"], Config)
        elif first["type"] == "missing":
            message = "missing"
        found = next((lines[path[:end]] for end in range(len(path), -1, -1)
                      if path[:end] in lines), None)
        key = _dotted(path)
        where = f"{filename}:{found}" if found else filename
        raise ConfigError(f"{where} {key}: {message}") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cycle collection while a file is read and validated: ten thousand burners are
    ~a million new objects, and the collector walked the growing heap again and again
    (~20 % of the parse) for cycles that reading a file does not make."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _dotted(path: Path_) -> str:
    """A key's place for a one-line message: a key that is not plain printable text
    (a line break, a control character) is quoted, so the message stays one line."""
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in path) or "(top level)"


def _locate(loc: tuple[Any, ...], data: Any) -> Path_:
    """The path in the raw YAML data of a pydantic error location."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a dict key
            break
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            current = current[part]
        elif isinstance(current, dict) and current.get("type") == part:
            continue  # pydantic names the union member it tried; the file does not
        else:
            path.append(part)
            break
        path.append(part)
    return tuple(path)


def _suggest(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    """' (did you mean ...?)' for a misspelt key, found by walking the models."""
    models = [model]
    for part in loc[:-1]:
        having = [m for m in models if part in m.model_fields]
        if having:  # else a dict key (a burner's name) or a union tag: stay
            models = [n for m in having for n in _models_in(m.model_fields[part].annotation)]
    fields = [f for m in models for f in m.model_fields]
    import difflib  # (only for a misspelt key: not on every command's path)

    close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _models_in(arg)
    return found
