"""Load the YAML configuration, with errors that name file, line and key.

``${NAME}`` in any string is replaced by the environment variable NAME, so
tokens and passwords can stay out of the file. Values are never echoed in
errors: a wrong token must not end up in a terminal scroll-back or a log.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..domain.defaults import CUT_BOUNDS, CUT_SECONDS, DEADLINE_BOUNDS, DEADLINE_S, STOVE_NAME, socket_path
from ..domain.durations import config_seconds
from ..domain.errors import ConfigError, DurationError

if TYPE_CHECKING:  # pydantic and the models cost ~200 ms: only loading a config imports them
    from pydantic import BaseModel

    from ..domain.config import Config

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

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


def load_config(path: Path) -> Config:
    return parse_config(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
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
    """
    try:
        data = _to_python(_compose(_read(path), str(path)), (), {}, str(path))
    except ConfigError:
        return None
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
    return DaemonRoute(socket_path(Path(socket) if socket else None), name, deadline, cut)


def _compose(text: str, filename: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{filename}{line}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:  # e.g. a control character: no line mark
        raise ConfigError(f"{filename}: not valid YAML: {str(err).splitlines()[0]}") from None
    if node is None:
        raise ConfigError(f"{filename}: the file is empty (see config.example.yaml)")
    return node


def parse_config(text: str, filename: str = "<config>") -> Config:
    from pydantic import ValidationError

    from ..domain.config import Config

    node = _compose(text, filename)
    lines: dict[Path_, int] = {}
    data = _to_python(node, (), lines, filename)
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
        key = ".".join(str(p) for p in path) or "(top level)"
        where = f"{filename}:{found}" if found else filename
        raise ConfigError(f"{where} {key}: {message}") from None


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], filename: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{filename}:{line}: a key must be a plain word")
            key = key_node.value
            if key in out:
                where = ".".join(str(p) for p in (*path, key))
                raise ConfigError(f"{filename}:{line} {where}: duplicate key")
            out[key] = _to_python(value_node, (*path, key), lines, filename)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, filename) for i, item in enumerate(node.value)]
    try:
        value = _SCALARS.construct_object(node)
    except Exception:  # a tagged scalar PyYAML cannot build ("!0", "!!int abc"): any exception type
        where = ".".join(str(p) for p in path) or "(top level)"
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise ConfigError(f"{filename}:{node.start_mark.line + 1} {where}: "
                          f"cannot read a value tagged {tag}") from None
    if isinstance(value, str):
        def env(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                where = ".".join(str(p) for p in path)
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
