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

import difflib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

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

Path_ = tuple[str | int, ...]
#: Turns YAML scalars into Python values with YAML's own rules (ints, bools...).
_SCALARS = yaml.SafeLoader("")


def default_config_path() -> Path:
    """DESIGN.md §4: $GASSTOVE_CONFIG, else ./gasstove.yaml, else ~/.config/gasstove/config.yaml."""
    if env := os.environ.get("GASSTOVE_CONFIG"):
        return Path(env)
    local = Path("gasstove.yaml")
    if local.exists():
        return local
    return Path.home() / ".config" / "gasstove" / "config.yaml"


def load_config(path: Path, *, warnings: list[str] | None = None) -> Config:
    """The validated configuration.

    What the user should fix but that does not stop us (a secret others may
    read) is added to ``warnings``, or logged as a warning when none is given.
    """
    found: list[tuple[str, int]] = []
    config = parse_config(_read(path), str(path), secrets=found)
    _warn(path, found, warnings)
    return config


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

    @property
    def reply_timeout(self) -> float:
        """Long enough for a cut, its pulse and the restore, each with its deadline."""
        return 2 * self.deadline + self.longest_cut + 5

    @classmethod
    def of(cls, config: Config) -> DaemonRoute:
        return cls(config.daemon.socket_path(), config.stove.name, config.stove.deadline,
                   max(b.cut_seconds for b in config.stove.burners.values()))


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
    data = _to_python(_compose(_read(path), str(path)), (), {}, str(path), found)
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
                       warnings[0] if warnings else None)


#: libyaml's parser (PyYAML's wheels ship it): PyYAML's own scanner needs ~20 s for a
#: 1 MiB list, and its look-ahead inside "[[[[..." grows with the square of the depth.
_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Open:
    """A mapping or list being composed."""

    node: yaml.MappingNode | yaml.SequenceNode
    counted: int  #: values counted when it opened
    key: yaml.Node | None = None  #: a mapping's key waiting for its value


def _compose(text: str, filename: str) -> yaml.Node:
    """The YAML node tree (as ``yaml.compose``), within the budgets of the module doc.

    Composed here from the parser's events, not by PyYAML's composer: an alias is
    one node shared by reference, and what expands it is walking the tree
    (:func:`_to_python`), so each alias is counted as the whole value it repeats
    before anything walks it.
    """
    try:
        loader = _PARSER(text)
        try:
            node = _compose_events(loader, filename)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{filename}{line}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:  # e.g. a control character: no line mark
        raise ConfigError(f"{filename}: not valid YAML: {str(err).splitlines()[0]}") from None
    if node is None:
        raise ConfigError(f"{filename}: the file is empty (see config.example.yaml)")
    return node


def _compose_events(loader: Any, filename: str) -> yaml.Node | None:
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # document start
    anchors: dict[str, yaml.Node] = {}
    sizes: dict[int, int] = {}  #: each finished node's values, aliases expanded
    stack: list[_Open] = []
    counted = 0
    while True:
        event = loader.get_event()
        start: Any = event.start_mark  # (libyaml's marks; the stubs know PyYAML's)
        line = start.line + 1

        def refuse(problem: str, line: int = line) -> NoReturn:
            raise ConfigError(f"{filename}:{line}: {problem}")

        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                refuse(f"not valid YAML: the alias *{event.anchor} names no anchor before it")
            node = anchors[event.anchor]
            if id(node) not in sizes:  # still open: expanding it would never end
                refuse("an alias refers to the value it is inside of")
            counted += sizes[id(node)]
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            end: Any = event.end_mark
            node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            sizes[id(node)] = 1
            counted += 1
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(stack) >= MAX_DEPTH:
                refuse(f"nested more than {MAX_DEPTH} deep")
            kind = (yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent)
                    else yaml.MappingNode)
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            collection = kind(tag, [], start, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = collection
            counted += 1
            stack.append(_Open(collection, counted))
            continue
        else:  # the end of a mapping or list
            done = stack.pop()
            node = done.node
            node.end_mark = event.end_mark
            sizes[id(node)] = counted - done.counted + 1
        if counted > MAX_VALUES:
            refuse(f"more than {MAX_VALUES} values (aliases expanded): not a gasstove "
                   "configuration")
        if not stack:
            break
        parent = stack[-1]
        if isinstance(parent.node, yaml.SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        refuse_more = loader.get_event().start_mark.line + 1
        raise ConfigError(f"{filename}:{refuse_more}: not valid YAML: expected a single "
                          "document in the stream")
    return node


def parse_config(text: str, filename: str = "<config>", *,
                 secrets: list[tuple[str, int]] | None = None) -> Config:
    """``secrets`` collects (key, line) of each secret written in the file itself."""
    from pydantic import ValidationError

    from ..domain.config import Config

    node = _compose(text, filename)
    lines: dict[Path_, int] = {}
    data = _to_python(node, (), lines, filename, secrets)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
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


def _dotted(path: Path_) -> str:
    """A key's place for a one-line message: a key that is not plain printable text
    (a line break, a control character) is quoted, so the message stays one line."""
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in path) or "(top level)"


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], filename: str,
               secrets: list[tuple[str, int]] | None = None) -> Any:
    """Plain Python data; ``secrets`` collects (key, line) of secrets written in the file."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{filename}:{line}: a key must be a plain word")
            key = key_node.value
            if key in out:
                where = _dotted((*path, key))
                raise ConfigError(f"{filename}:{line} {where}: duplicate key")
            out[key] = _to_python(value_node, (*path, key), lines, filename, secrets)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, filename, secrets)
                for i, item in enumerate(node.value)]
    try:
        value = _SCALARS.construct_object(node)
    except Exception:  # a tagged scalar PyYAML cannot build ("!0", "!!int abc"): any exception type
        where = _dotted(path)
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise ConfigError(f"{filename}:{node.start_mark.line + 1} {where}: "
                          f"cannot read a value tagged {tag}") from None
    if isinstance(value, str):
        if (secrets is not None and path and path[-1] in SECRET_KEYS
                and _ENV.sub("", value).strip()):
            secrets.append((_dotted(path), node.start_mark.line + 1))

        def env(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                where = _dotted(path)
                raise ConfigError(
                    f"{filename}:{node.start_mark.line + 1} {where}: "
                    f"environment variable {name} is not set"
                )
            return os.environ[name]

        value = _ENV.sub(env, value)
    return value


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
