"""``stove ha install`` / ``stove ha sentences`` / ``stove ha package``: gasstove into Home Assistant.

gasstove is not on PyPI, so the integration cannot name it in its manifest's
``requirements``. ``install`` copies the integration into
``<config>/custom_components/gasstove/`` and vendors this very ``gasstove``
package into ``custom_components/gasstove/lib/gasstove``; the component puts
that ``lib`` folder on ``sys.path`` before importing it (``_vendor.py``).
Only our own pure-Python package is vendored: what it needs from others
stays in the manifest's ``requirements`` (pydantic 2; cryptography and PyYAML
come with Home Assistant; the miio driver frames miIO itself, so no
python-miio), which Home Assistant installs with its own constraints, and
nothing we copy can
shadow a package another integration uses. ``package`` builds the same tree
as a zip for a HACS release asset. ``install`` also copies the automation
blueprints (``blueprints/automation/gasstove/``: Xiao AI) to where Home
Assistant looks for them, ``<config>/blueprints/automation/gasstove/``.

``sentences`` writes the Assist sentence files from the library's grammar
(:func:`gasstove.domain.voice.sentence_data`), with the burner names and
aliases of the stoves already set up in that Home Assistant (read from
``.storage/core.config_entries``), so there is one grammar.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..domain.errors import UsageError

#: Home Assistant's language codes for Chinese differ between setups (the
#: frontend's "zh-Hans" pipeline uses "zh-cn"; some custom setups "zh-CN"),
#: and custom_sentences folder names must match exactly: write both.
SENTENCE_LANGS: dict[str, tuple[str, ...]] = {"en": ("en",), "zh": ("zh-cn", "zh-CN")}
DOMAIN = "gasstove"
#: The release asset's name: hacs.json's ``filename``, which HACS downloads with ``zip_release``.
RELEASE_ZIP = "gasstove-ha.zip"
#: Where Home Assistant looks for automation blueprints (``<config>/blueprints/automation/<author>/``),
#: and where this checkout keeps ours.
BLUEPRINTS = Path("blueprints", "automation", DOMAIN)

ConfigDir = Annotated[Path, typer.Argument(help="Home Assistant's configuration directory.")]


def integration_source() -> Path:
    """``custom_components/gasstove`` of this checkout (where HACS looks for it too).

    The checkout is the folder with ``pyproject.toml``: a library vendored into an
    installed integration never takes that integration for its source.
    """
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "custom_components" / DOMAIN
        if (parent / "pyproject.toml").is_file() and (candidate / "manifest.json").is_file():
            return candidate
    raise UsageError("cannot find custom_components/gasstove next to the gasstove "
                     "package: run `stove ha install` from a git checkout (pip install -e .)")


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", "lib") or n.endswith((".pyc", ".pyo"))}


def build_tree(target: Path) -> Path:
    """Write the integration with the vendored library into ``target`` (replaced)."""
    import gasstove

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(integration_source(), target, ignore=_ignore)
    shutil.copytree(Path(gasstove.__file__).parent, target / "lib" / "gasstove", ignore=_ignore)
    return target


def install(config_dir: Path) -> Path:
    if not config_dir.is_dir():
        raise UsageError(f"{config_dir}: not a directory (give Home Assistant's config directory)")
    target = build_tree(config_dir / "custom_components" / DOMAIN)
    install_blueprints(config_dir)
    return target


def install_blueprints(config_dir: Path) -> list[Path]:
    """Copy this checkout's automation blueprints into ``<config>/blueprints/automation/gasstove/``
    (replacing ours of the same name; a user's own blueprints there are left alone)."""
    source = integration_source().parent.parent / BLUEPRINTS
    written: list[Path] = []
    for blueprint in sorted(source.glob("*.yaml")):
        target = config_dir / BLUEPRINTS / blueprint.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blueprint, target)
        written.append(target)
    return written


def configured_burners(config_dir: Path) -> dict[str, list[str]]:
    """Burner names and aliases of the gasstove entries of that Home Assistant (none: {})."""
    path = config_dir / ".storage" / "core.config_entries"
    try:
        entries = json.loads(path.read_text("utf-8"))["data"]["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    burners: dict[str, list[str]] = {}
    for entry in entries:
        if entry.get("domain") != DOMAIN:
            continue
        aliases = (entry.get("options") or {}).get("aliases", {})
        for name in (entry.get("data") or {}).get("burners", {}):
            burners.setdefault(name, []).extend(aliases.get(name, []))
    return burners


def write_sentences(config_dir: Path, burners: Mapping[str, Sequence[str]] | None = None) -> list[Path]:
    from ..domain.voice import sentence_data

    if not config_dir.is_dir():
        raise UsageError(f"{config_dir}: not a directory (give Home Assistant's config directory)")
    burners = configured_burners(config_dir) if burners is None else burners
    written: list[Path] = []
    for lang, folders in SENTENCE_LANGS.items():
        data: dict[str, Any] = sentence_data(lang, burners)  # type: ignore[arg-type]
        for folder in folders:
            data["language"] = folder
            path = config_dir / "custom_sentences" / folder / f"{DOMAIN}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            header = ("# Written by `stove ha sentences` from gasstove's voice grammar; "
                      "run it again after changing burners or aliases.\n")
            path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
            written.append(path)
    return written


def package(out: Path) -> Path:
    """A zip of ``custom_components/gasstove`` with the library, for a HACS release."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tree = build_tree(Path(tmp) / DOMAIN)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(tree.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(tree))
    return out


def register(app: typer.Typer) -> None:
    """Add ``stove ha ...`` to the ``stove`` command (called from ``cli/main.py``)."""
    ha = typer.Typer(name="ha", help="Put gasstove into a Home Assistant installation.",
                     no_args_is_help=True)

    @ha.command("install")
    def install_cmd(config_dir: ConfigDir) -> None:
        """Copy the integration and the gasstove library into CONFIG_DIR/custom_components/gasstove."""
        target = install(config_dir)
        print(f"installed the gasstove integration into {target} and its blueprints into "
              f"{config_dir / BLUEPRINTS}; restart Home Assistant, then "
              "add it under Settings > Devices & services")

    @ha.command("sentences")
    def sentences_cmd(
        config_dir: ConfigDir,
        burner: Annotated[list[str] | None, typer.Option(
            "--burner", metavar="NAME[=ALIAS,...]",
            help="Burner and aliases to use instead of those set up in Home Assistant.")] = None,
    ) -> None:
        """Write CONFIG_DIR/custom_sentences/{en,zh-cn,zh-CN}/gasstove.yaml from the library grammar."""
        chosen: dict[str, list[str]] | None = None
        if burner:
            chosen = {}
            for item in burner:
                name, _, aliases = item.partition("=")
                chosen[name.strip()] = [a.strip() for a in aliases.split(",") if a.strip()]
        for path in write_sentences(config_dir, chosen):
            print(f"wrote {path}")
        print("reload them: Developer tools > YAML > Conversation, or restart Home Assistant")

    @ha.command("package")
    def package_cmd(out: Annotated[Path, typer.Argument(help="Zip file to write.")] = Path(RELEASE_ZIP)
                    ) -> None:
        """Build the HACS release zip (integration + vendored library)."""
        print(f"wrote {package(out)}")

    app.add_typer(ha)
