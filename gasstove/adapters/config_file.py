"""Load the YAML configuration, with errors that name file, line and key.

``${NAME}`` in any string is replaced by the environment variable NAME, so
tokens and passwords can stay out of the file. Values are never echoed in
errors: a wrong token must not end up in a terminal scroll-back or a log.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..domain.config import Config
from ..domain.errors import ConfigError

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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no configuration file (copy config.example.yaml there, "
            "or pass --config)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    return parse_config(text, str(path))


def parse_config(text: str, filename: str = "<config>") -> Config:
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
    value = _SCALARS.construct_object(node)
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
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _models_in(arg)
    return found
