"""The library's public face: ``from gasstove import ...`` is all a front end outside the
package needs (issue 18 item 5), it costs nothing until a name is used, and ``Stove``
closes its relays as an async context manager."""

from __future__ import annotations

import ast
import asyncio
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import gasstove
from gasstove import MqttRelay, Stove, build_relays, load_config
from tests.fixtures_miio import SimRelay, burner_yaml, write_config
from tests.fixtures_mqtt import Mosquitto, MqttSim

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "gasstove"


def test_import_gasstove_loads_no_other_module() -> None:
    """The ``stove`` command imports the package first: its face must not make every
    command pay for pydantic, python-miio or paho."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, gasstove; print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in ('gasstove', 'pydantic', 'miio', 'paho', 'typer', 'yaml')))"],
        capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "['gasstove']"


def test_every_public_name_is_there_and_nothing_else() -> None:
    namespace: dict[str, object] = {}
    exec("from gasstove import *", namespace)
    assert set(gasstove.__all__) <= set(namespace)
    assert set(gasstove.__all__) <= set(dir(gasstove))
    for name in gasstove.__all__:
        assert getattr(gasstove, name) is namespace[name], name
    with pytest.raises(AttributeError, match="no attribute 'Stoev'"):
        _ = gasstove.Stoev  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from gasstove import control_internals", {})


def test_what_type_checkers_see_is_what_runs() -> None:
    """The names imported for type checkers are the ones the face hands out at run time,
    from the same modules, and ``__all__`` lists exactly those (and the version)."""
    tree = ast.parse((ROOT / "gasstove" / "__init__.py").read_text())
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level == 1
                for alias in imp.names:
                    checked[alias.asname or alias.name] = f"gasstove.{imp.module}"
    assert checked == gasstove._MODULE_OF
    assert sorted(gasstove.__all__) == sorted([*checked, "__version__"])


def test_the_integration_imports_only_the_public_face() -> None:
    """Home Assistant's integration uses the library through ``from gasstove import ...``
    only, each name one the face exports: the modules behind it may move."""
    wrong: list[str] = []
    for path in sorted(INTEGRATION.rglob("*.py")):
        if "lib" in path.relative_to(INTEGRATION).parts:  # (the copy `stove ha install` vendors)
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                wrong += [f"{where} import {a.name}" for a in node.names
                          if a.name.split(".")[0] == "gasstove"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] == "gasstove":
                if node.module != "gasstove":
                    wrong.append(f"{where} from {node.module} import ...")
                wrong += [f"{where} {a.name} is not in gasstove.__all__ (add it to the face in "
                          "gasstove/__init__.py)" for a in node.names
                          if node.module == "gasstove" and a.name not in gasstove.__all__]
    assert not wrong, "\n".join(wrong)


def test_the_face_example_shuts_a_burner_off(
    tmp_path: Path, miio_relay: Callable[..., SimRelay],
) -> None:
    """The usage shown in gasstove/__init__.py, on a simulated relay over real UDP."""
    relay = miio_relay("left")
    path = write_config(tmp_path / "gasstove.yaml", burner_yaml("left", relay))

    async def main() -> list[gasstove.Outcome]:
        config = load_config(path)
        async with Stove(config.stove, build_relays(config)) as stove:
            return await stove.shut_off(stove.resolve(["left"]))

    (outcome,) = asyncio.run(main())
    assert outcome.ok and outcome.restored, outcome.message
    assert not relay.burner.state().flame


def test_leaving_a_stove_block_closes_its_broker_connection_even_on_an_error(
    mosquitto: Mosquitto, mqtt_sim: Callable[..., MqttSim],
) -> None:
    sim = mqtt_sim({"dialect": "tasmota", "topic": "face-left", "channel": 1})
    config = gasstove.Config.model_validate({
        "stove": {"deadline": 2, "burners": {"left": {"cut_seconds": 1, "relay": {
            "type": "mqtt", **sim.relay}}}},
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "keepalive": 10},
    })

    async def main() -> tuple[MqttRelay, str]:
        stove = Stove(config.stove, build_relays(config))
        relay = stove.relays["left"]
        assert isinstance(relay, MqttRelay)
        try:
            async with stove:
                (outcome,) = await stove.shut_off(["left"])
                assert outcome.ok and relay._link.connected, outcome.message
                raise RuntimeError("the caller's own error")
        except RuntimeError as err:
            return relay, str(err)

    relay, error = asyncio.run(main())
    assert error == "the caller's own error", "the block's own error goes through"
    assert relay._link._client is None and not relay._link.connected


# -- the command line's face: the README's table lists what `stove --help` lists ------------


def _commands() -> list[tuple[str, list[str]]]:
    """("stove sim mqtt", its --options) for every command `stove --help` lists, sub-command
    groups walked (by click's own listing, which the help is printed from)."""
    import typer

    from gasstove.cli.main import app

    found: list[tuple[str, list[str]]] = []

    def walk(group: Any, ctx: Any, path: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            if hasattr(command, "list_commands"):  # a group (`stove sim`, `stove ha`)
                walk(command, command.context_class(command, info_name=name, parent=ctx),
                     f"{path} {name}")
            else:
                found.append((f"{path} {name}", [
                    o for p in command.params if p.param_type_name == "option"
                    for o in p.opts if o.startswith("--") and o != "--help"]))

    root = typer.main.get_command(app)
    walk(root, root.context_class(root, info_name="stove"), "stove")
    return found


def test_the_readme_command_table_has_every_command_and_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gasstove.cli.fast import main

    commands = _commands()
    for group in ("", "sim", "ha"):  # (what we walked is what the help shows)
        with pytest.raises(SystemExit):
            main([*group.split(), "--help"])
        shown = capsys.readouterr().out
        for label, _ in commands:
            if label.rsplit(" ", 1)[0] == f"stove {group}".strip():
                assert f" {label.rsplit(' ', 1)[1]} " in shown, (label, shown)
    assert {"stove sim mqtt", "stove ha package", "stove serve"} <= {c for c, _ in commands}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Command line"):readme.index("### Trying every command")]
    rows = [line for line in table.splitlines() if line.startswith("| `stove")]
    wrong = []
    for label, options in commands:
        mine = [row for row in rows if re.search(f"`{re.escape(label)}[ `]", row)]
        if not mine:
            wrong.append(f"{label}: no row in README.md's command table")
        wrong += [f"{label} {option}: not in its README.md row" for option in options
                  if not any(option in row for row in mine)]
    assert not wrong, "\n".join(wrong)
