"""The package's import graph, read from the source with ``ast``: no module imports
one that imports it back (directly or round a loop), and no layer imports one above it
(docs/design.md §3). Imports inside functions count (they run, only later); those
under ``if TYPE_CHECKING:`` do not (they never run). The public face's lazy names
(``gasstove/__init__.py``) count as imports of the package."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import gasstove

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gasstove"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in (child, *_runtime_nodes(child)))
            continue
        yield node
        yield from _runtime_nodes(node)


def _imported(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports at run time, relative imports resolved (a name
    imported from a package that is a module of its own counts as that module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found |= {f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                      for a in node.names}
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports."""
    found = _imported(name, path)
    if name == "gasstove":
        found |= set(gasstove._FACE)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle_from(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for imported in sorted(GRAPH[module]):
            if imported == start:
                return [*path, start]
            if imported not in seen:
                seen.add(imported)
                stack.append((imported, [*path, imported]))
    return None


def test_the_graph_is_read() -> None:
    """(The checks below mean something: the graph has the edges we know of.)"""
    assert "gasstove.control" in GRAPH["gasstove"]
    assert "gasstove.cli.main" in GRAPH["gasstove.cli.fast"]  # (an import inside a function)
    assert "gasstove.domain.config" not in GRAPH["gasstove.cli.main"]  # (TYPE_CHECKING only)
    assert "gasstove.cli.sim_mqtt" in GRAPH["gasstove.cli.sim"]


def test_no_module_imports_itself_round_a_loop() -> None:
    cycles = [" -> ".join(c) for name in sorted(GRAPH) if (c := _cycle_from(name))]
    assert not cycles, "\n".join(cycles)


#: Layers from the bottom (docs/design.md §3): a module imports only from its own layer
#: or those below. The package itself (the public face, and the version the domain's
#: discovery messages carry) is left out.
LAYERS = ("domain", "adapters", "core", "daemon", "sim", "cli", "__main__")


def _layer(module: str) -> int:
    part = module.split(".")[1]
    return LAYERS.index(part if part in LAYERS else "core")  # control, timer_policy, records


def test_no_layer_imports_one_above_it() -> None:
    wrong = [f"{module} -> {imported}"
             for module, imports in sorted(GRAPH.items()) if module != "gasstove"
             for imported in sorted(imports)
             if imported != "gasstove" and _layer(imported) > _layer(module)]
    assert not wrong, "\n".join(wrong)


def test_the_library_never_imports_home_assistant() -> None:
    wrong = [f"{path.relative_to(ROOT)}:{node.lineno}"
             for path in MODULES.values()
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Import | ast.ImportFrom)
             and any(n.split(".")[0] == "homeassistant"
                     for n in ([a.name for a in node.names] if isinstance(node, ast.Import)
                               else [node.module or ""]))]
    assert not wrong


def _top_level(name: str, path: Path) -> set[str]:
    """The top-level names of the packages ``name`` imports at run time."""
    return {m.split(".")[0] for m in _imported(name, path)}


def test_home_assistant_runs_no_python_miio() -> None:
    """The integration drives miio relays with the library's own framing, so Home Assistant
    installs no python-miio (and its dependencies) for it: nothing the integration loads
    imports ``miio``, and the manifest does not ask for it."""
    import json

    component = ROOT / "custom_components" / "gasstove"
    by_name = {name: module for module, names in gasstove._FACE.items() for name in names}
    start: set[str] = set()
    for path in component.glob("*.py"):
        assert "miio" not in _top_level(f"custom_components.gasstove.{path.stem}", path), \
            f"{path.name} imports python-miio"
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "gasstove":
                start |= {by_name.get(a.name, "gasstove") for a in node.names}
    reached, todo = set(), sorted(start - {"gasstove"})
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += sorted(GRAPH[module] - {"gasstove"})
    assert "gasstove.adapters.miio_relay" in reached  # (the walk sees the miio driver)
    wrong = sorted(m for m in reached if "miio" in _top_level(m, MODULES[m]))
    assert not wrong, f"loaded by the integration and importing python-miio: {wrong}"
    manifest = json.loads((component / "manifest.json").read_text())
    assert not [r for r in manifest["requirements"] if r.startswith("python-miio")]
    assert "miio" not in manifest["loggers"]
