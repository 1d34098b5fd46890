"""The checks HACS, hassfest and the brands repository apply to a custom integration, ported.

Neither validator runs offline against a checkout: HACS reads the repository
through GitHub's API (custom_components/hacs/validate/*, run by hacs/action),
and hassfest lives in home-assistant/core's ``script/`` folder, which the
``homeassistant`` wheel does not ship. So their rules are copied here, each
function naming its source; every function returns the errors it finds, as
hassfest's ``integration.add_error`` collects them. The voluptuous schemas use
Home Assistant's own validators (config_validation, selector, service) from the
installed Home Assistant, as hassfest does.

Sources read on 2026-12-01:
- hacs/integration @ 3249355 (2026-08-07): validate/hacsjson.py, validate/
  integration_manifest.py, validate/brands.py, validate/information.py,
  validate/license.py, utils/validate.py, utils/filters.py,
  repositories/integration.py (validate_repository), repositories/base.py
  (async_download_zip_file: ``zipfile.extractall(custom_components/<domain>)``).
- home-assistant/core script/hassfest/: manifest.py (dev, 2026), services.py,
  translations.py, icons.py @ 23d4f3b.
- home-assistant/brands .github/workflows/validate/validate.sh.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import voluptuous as vol
from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
from homeassistant.const import CONF_SELECTOR
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import selector, service
from homeassistant.util.yaml import load_yaml_dict
from voluptuous.humanize import humanize_error


def _check(schema: Any, data: Any, what: str) -> list[str]:
    try:
        schema(data)
    except vol.Invalid as err:
        return [f"Invalid {what}: {humanize_error(data, err)}"]
    return []


# --- HACS ------------------------------------------------------------------------------------

#: hacs utils/validate.py HACS_MANIFEST_JSON_SCHEMA (``country`` checked against HACS's
#: LOCALE list there; we set none).
HACS_JSON_SCHEMA = vol.Schema(
    {
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
        vol.Required("name"): str,
    },
    extra=vol.PREVENT_EXTRA,
)

#: hacs utils/validate.py INTEGRATION_MANIFEST_JSON_SCHEMA (``url_validator`` is cv.url).
HACS_MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("codeowners"): list,
        vol.Required("documentation"): cv.url,
        vol.Required("domain"): str,
        vol.Required("issue_tracker"): cv.url,
        vol.Required("name"): str,
        vol.Required("version"): vol.Coerce(AwesomeVersion),
    },
    extra=vol.ALLOW_EXTRA,
)


def hacs_json(data: dict[str, Any]) -> list[str]:
    """validate/hacsjson.py, plus repositories/base.py ``should_try_releases``: a zip release
    is only downloaded when ``filename`` ends with ``.zip``."""
    errors = _check(HACS_JSON_SCHEMA, data, "hacs.json")
    if data.get("zip_release"):
        if not data.get("filename"):
            errors.append("zip_release is True, but filename is not set")
        elif not data["filename"].endswith(".zip"):
            errors.append("zip_release is True, but filename does not end with .zip")
    return errors


def hacs_content_path(tree: list[str], data: dict[str, Any]) -> tuple[str | None, list[str]]:
    """repositories/integration.py validate_repository and async_get_integration_manifest:
    the integration is the first directory under ``custom_components/`` of the repository
    (``content_in_root``: the root), and its manifest.json must be in the repository's tree
    -- also with ``zip_release``, where only the files come from the release zip."""
    if data.get("content_in_root"):
        remote = ""
    else:
        # utils/filters.py get_first_directory_in_directory, over a git tree's paths.
        dirs = sorted({p.split("/")[1] for p in tree
                       if p.startswith("custom_components/") and p.count("/") >= 2})
        if not dirs:
            return None, ["Repository structure is not compliant: no directory in custom_components/"]
        if len(dirs) > 1:  # hacs.xyz/docs/publish/integration: only the first one is managed
            return None, [f"more than one integration in custom_components/: {dirs}"]
        remote = f"custom_components/{dirs[0]}"
    manifest = f"{remote}/manifest.json".lstrip("/")
    if manifest not in tree:
        return remote, [f"No manifest.json file found '{manifest}'"]
    return remote, []


def hacs_brands(tree: list[str], remote: str) -> list[str]:
    """validate/brands.py: ``<integration>/brand/icon.png`` in the repository (or a listing in
    the brands repository, which no longer takes custom integrations)."""
    asset = f"{remote}/brand/icon.png".lstrip("/")
    return [] if asset in tree else [f"The repository does not contain brands assets at {asset}"]


def hacs_information(tree: list[str]) -> list[str]:
    """validate/information.py: a readme or info file at the root."""
    names = {p.lower() for p in tree if "/" not in p}
    if names & {"readme", "readme.md", "info", "info.md"}:
        return []
    return ["The repository has no information file"]


def hacs_manifest(manifest: dict[str, Any]) -> list[str]:
    """validate/integration_manifest.py."""
    return _check(HACS_MANIFEST_SCHEMA, manifest, "manifest.json (HACS)")


# --- hassfest: manifest.py --------------------------------------------------------------------

SUPPORTED_IOT_CLASSES = ["assumed_state", "calculated", "cloud_polling", "cloud_push",
                         "local_polling", "local_push"]
INTEGRATION_TYPES = ["device", "entity", "hardware", "helper", "hub", "service", "system"]
SUPPORTED_QUALITY_SCALES = ["bronze", "silver", "gold", "platinum", "custom", "no_score",
                            "internal", "legacy"]


def _verify_version(value: str) -> str:
    try:
        AwesomeVersion(value, ensure_strategy=[
            AwesomeVersionStrategy.CALVER, AwesomeVersionStrategy.SEMVER,
            AwesomeVersionStrategy.SIMPLEVER, AwesomeVersionStrategy.BUILDVER,
            AwesomeVersionStrategy.PEP440])
    except AwesomeVersionException as err:
        raise vol.Invalid(f"'{value}' is not a valid version.") from err
    return value


def _custom_documentation_url(value: str) -> str:
    if not value.startswith("https://"):
        raise vol.Invalid("Documentation url is not prefixed with https")
    if value.startswith("https://www.home-assistant.io/integrations"):
        raise vol.Invalid("Documentation URL should point to the custom integration documentation")
    return value


#: CUSTOM_INTEGRATION_MANIFEST_SCHEMA: INTEGRATION_MANIFEST_SCHEMA's keys (discovery matchers
#: -- zeroconf, ssdp, bluetooth, homekit, dhcp, usb -- and preview_features left out: we
#: declare none, so any of them is refused here) extended for custom integrations.
CUSTOM_INTEGRATION_MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type", default="hub"): vol.In(INTEGRATION_TYPES),
        vol.Optional("config_flow"): bool,
        vol.Optional("mqtt"): [str],
        vol.Required("documentation"): vol.All(vol.Url(), _custom_documentation_url),
        vol.Optional("quality_scale"): vol.In(SUPPORTED_QUALITY_SCALES),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [str],
        vol.Optional("loggers"): [str],
        vol.Optional("disabled"): str,
        vol.Optional("iot_class"): vol.In(SUPPORTED_IOT_CLASSES),
        vol.Optional("single_config_entry"): bool,
        vol.Optional("version"): vol.All(str, _verify_version),
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("import_executor"): bool,
    }
)


def hassfest_manifest(path: Path) -> list[str]:
    """validate_manifest and sort_manifest (script.util.sort_manifest: domain, name, then
    alphabetical)."""
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    errors = _check(CUSTOM_INTEGRATION_MANIFEST_SCHEMA, manifest, "manifest")
    if manifest.get("domain") != path.name:
        errors.append("Domain does not match dir name")
    if "iot_class" not in manifest:
        errors.append("Domain is missing an IoT Class")
    if not manifest.get("version"):
        errors.append("No 'version' key in the manifest file.")
    keys = list(manifest)
    if keys != sorted(keys, key=lambda k: {"domain": ".domain", "name": ".name"}.get(k, k)):
        errors.append("Manifest keys are not sorted correctly: domain, name, then alphabetical order")
    return errors


# --- hassfest: translations.py ----------------------------------------------------------------

RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")


def translation_key_validator(value: str) -> str:
    if RE_TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(f"Invalid translation key '{value}', need to be [a-z0-9-_]+ and"
                          " cannot start or end with a hyphen or underscore.")
    return value


def translation_value_validator(value: Any) -> str:
    """No HTML, no placeholder in single quotes, no combined reference, no outer spaces."""
    string_value = cv.string_with_no_html(value)
    if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(string_value):
        raise vol.Invalid("the string should not contain placeholders inside single quotes")
    if RE_COMBINED_REFERENCE.search(string_value):
        raise vol.Invalid("the string should not contain combined translations")
    if string_value != string_value.strip():
        raise vol.Invalid("the string should not contain leading or trailing spaces")
    return string_value


def _data_entry_schema(*, removed_title: bool) -> vol.All:
    """gen_data_entry_schema (flow_title REMOVED for config: a custom integration gets a
    warning only, which we count as an error; UNDEFINED for options and fix flows)."""
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): translation_value_validator,
        vol.Required("step"): {
            str: {
                vol.Optional("title"): translation_value_validator,
                vol.Optional("description"): translation_value_validator,
                vol.Optional("data"): {str: translation_value_validator},
                vol.Optional("data_description"): {str: translation_value_validator},
                vol.Optional("menu_options"): {str: translation_value_validator},
                vol.Optional("submit"): translation_value_validator,
                vol.Optional("sections"): {
                    str: {
                        vol.Optional("data"): {str: translation_value_validator},
                        # (newer than the hassfest port: HA 2025.4's own habitica and
                        # kitchen_sink translations give a section's fields their help)
                        vol.Optional("data_description"): {str: translation_value_validator},
                        vol.Optional("description"): translation_value_validator,
                        vol.Optional("name"): translation_value_validator,
                    },
                },
            }
        },
        vol.Optional("error"): {str: translation_value_validator},
        vol.Optional("abort"): {str: translation_value_validator},
        vol.Optional("progress"): {str: translation_value_validator},
        vol.Optional("create_entry"): {str: translation_value_validator},
    }
    if removed_title:
        def removed(_value: Any) -> Any:
            raise vol.Invalid("config.title key has been moved out of config and into the root")
        schema[vol.Optional("title")] = removed

    def data_description_validator(value: dict[str, Any]) -> dict[str, Any]:
        for step_info in value["step"].values():
            for key in step_info.get("data_description", {}):
                if key not in step_info.get("data", {}):
                    raise vol.Invalid(f"data_description key {key} is not in data")
        return value

    return vol.All(vol.Schema(schema), data_description_validator)


def _slug_keys(value_schema: Any, slug: Any = translation_key_validator) -> Any:
    return cv.schema_with_slug_keys(value_schema, slug_validator=slug)


_STATES = _slug_keys(translation_value_validator)

#: gen_strings_schema, the keys an integration (not auth/onboarding/hardware) may have.
STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): translation_value_validator,
        vol.Optional("config"): _data_entry_schema(removed_title=True),
        vol.Optional("options"): _data_entry_schema(removed_title=False),
        vol.Optional("selector"): _slug_keys({"options": _STATES}, vol.Any("_", cv.slug)),
        vol.Optional("device_automation"): {
            vol.Optional(key): {str: translation_value_validator}
            for key in ("action_type", "condition_type", "trigger_type", "trigger_subtype",
                        "extra_fields", "extra_fields_descriptions")
        },
        vol.Optional("system_health"): {vol.Optional("info"): _STATES},
        vol.Optional("config_panel"): _slug_keys(_STATES, vol.Any("_", cv.slug)),
        vol.Optional("application_credentials"): {vol.Optional("description"): translation_value_validator},
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                vol.Schema({
                    vol.Required("title"): translation_value_validator,
                    vol.Exclusive("description", "fixable"): translation_value_validator,
                    vol.Exclusive("fix_flow", "fixable"): _data_entry_schema(removed_title=False),
                }),
            )
        },
        vol.Optional("entity_component"): _slug_keys({
            vol.Optional("name"): str,
            vol.Optional("state"): _STATES,
            vol.Optional("state_attributes"): _slug_keys({vol.Optional("name"): str,
                                                         vol.Optional("state"): _STATES}),
        }, vol.Any("_", cv.slug)),
        vol.Optional("device"): _slug_keys({vol.Optional("name"): translation_value_validator}),
        vol.Optional("entity"): _slug_keys(_slug_keys({
            vol.Optional("name"): translation_value_validator,
            vol.Optional("state"): _STATES,
            vol.Optional("state_attributes"): _slug_keys({
                vol.Optional("name"): translation_value_validator,
                vol.Optional("state"): _STATES,
            }),
        }), cv.slug),
        vol.Optional("exceptions"): _slug_keys({vol.Optional("message"): translation_value_validator},
                                               cv.slug),
        vol.Optional("services"): _slug_keys({
            vol.Required("name"): translation_value_validator,
            vol.Required("description"): translation_value_validator,
            vol.Optional("fields"): _slug_keys({
                vol.Required("name"): str,
                vol.Required("description"): translation_value_validator,
                vol.Optional("example"): translation_value_validator,
            }),
            vol.Optional("sections"): _slug_keys({
                vol.Required("name"): str,
                vol.Optional("description"): translation_value_validator,
            }),
        }),
        vol.Optional("conversation"): {
            vol.Required("agent"): {vol.Required("done"): translation_value_validator}},
        vol.Optional("common"): vol.Schema({cv.slug: translation_value_validator}),
    }
)


def hassfest_translations(path: Path) -> list[str]:
    """validate_translation_file for a custom integration (``--integration-path``):
    strings.json and translations/en.json. Other languages get the same schema here
    (hassfest leaves them to Lokalise for core; a custom integration has none)."""
    errors = []
    if (path / ".translations").is_dir() and not (path / "translations").is_dir():
        errors.append("The '.translations' directory has been moved, the new name is 'translations'")
    for file in [path / "strings.json", *sorted((path / "translations").glob("*.json"))]:
        if not file.is_file():
            continue
        name = str(file.relative_to(path))
        try:
            strings = json.loads(file.read_text("utf-8"))
        except ValueError as err:
            errors.append(f"Invalid JSON in {name}: {err}")
            continue
        errors += _check(STRINGS_SCHEMA, strings, name)
    return errors


# --- hassfest: services.py --------------------------------------------------------------------

def _exists(value: Any) -> Any:
    if value is None:
        raise vol.Invalid("Value cannot be None")
    return value


def _unique_fields(fields: Any) -> Any:
    seen: set[str] = set()
    for key, value in fields.items():
        for name in (value["fields"] if value and "fields" in value else [key]):
            if name in seen:
                raise vol.Invalid(f"Duplicate use of field {name} in service.")
            seen.add(name)
    return fields


_CUSTOM_EXTRA = {vol.Optional("description"): str, vol.Optional("name"): str}


def _field_schema(targeted: bool) -> vol.Schema:
    schema: dict[Any, Any] = {
        vol.Optional("example"): _exists,
        vol.Optional("default"): _exists,
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional(CONF_SELECTOR): selector.validate_selector,
        **_CUSTOM_EXTRA,
    }
    if targeted:
        schema[vol.Optional("filter")] = {
            vol.Exclusive("attribute", "field_filter"): {
                vol.Required(str): [vol.All(str, service.validate_attribute_option)]},
            vol.Exclusive("supported_features", "field_filter"): [
                vol.All(str, service.validate_supported_feature)],
        }
    return vol.Schema(schema)


def _service_schema(targeted: bool) -> vol.Schema:
    section = vol.Schema({vol.Optional("collapsed"): bool,
                          vol.Required("fields"): vol.Schema({str: _field_schema(targeted)}),
                          **_CUSTOM_EXTRA})
    schema: dict[Any, Any] = {
        vol.Optional("fields"): vol.All(vol.Schema({str: vol.Any(_field_schema(targeted), section)}),
                                        _unique_fields),
        **_CUSTOM_EXTRA,
    }
    if targeted:
        schema[vol.Required("target")] = selector.TargetSelector.CONFIG_SCHEMA
    return vol.Schema(schema)


#: CUSTOM_INTEGRATION_SERVICES_SCHEMA
CUSTOM_INTEGRATION_SERVICES_SCHEMA = vol.Schema(
    {cv.slug: vol.Any(_service_schema(targeted=True), _service_schema(targeted=False), None)})


def hassfest_services(path: Path, registered: set[str]) -> list[str]:
    """validate_services. For a custom integration hassfest reads translations/en.json, and
    asks a name and a description of each service and field only of core integrations;
    we ask it too (the frontend's action editor shows the raw key without them)."""
    file = path / "services.yaml"
    if not file.is_file():
        return ["Registers services but has no services.yaml"] if registered else []
    data = load_yaml_dict(str(file))
    errors = _check(CUSTOM_INTEGRATION_SERVICES_SCHEMA, data, "services.yaml")
    if errors:
        return errors
    if set(data) != registered:
        errors.append(f"services.yaml describes {sorted(data)}, "
                      f"the integration registers {sorted(registered)}")
    en = path / "translations" / "en.json"
    strings = json.loads(en.read_text("utf-8")) if en.is_file() else {}
    for name, schema in data.items():
        text = strings.get("services", {}).get(name, {})
        for key in ("name", "description"):
            if key not in (schema or {}) and key not in text:
                errors.append(f"Service {name} has no {key} and is not in the translations file")
        for field, field_schema in ((schema or {}).get("fields") or {}).items():
            if "fields" in field_schema:  # a section
                continue
            for key in ("name", "description"):
                if key not in field_schema and key not in text.get("fields", {}).get(field, {}):
                    errors.append(f"Service {name} has a field {field} with no {key} "
                                  "and is not in the translations file")
            if (key := (field_schema.get("selector") or {}).get("select", {}).get("translation_key")) \
                    and key not in strings.get("selector", {}):
                errors.append(f"Service {name} has a field {field} with a selector with a "
                              f"translation key {key} that is not in the translations file")
    return errors


# --- hassfest: icons.py -----------------------------------------------------------------------

def icon_value_validator(value: Any) -> str:
    value = cv.string_with_no_html(value)
    if not value.startswith("mdi:"):
        raise vol.Invalid("The icon needs to be a valid icon from Material Design Icons "
                          "and start with `mdi:`")
    return str(value)


def _ensure_not_same_as_default(value: dict[str, Any]) -> dict[str, Any]:
    for translation_key, section in value.items():
        if (default := section.get("default")) and (states := section.get("state")):
            for state, icon in states.items():
                if icon == default:
                    raise vol.Invalid(f"The icon for state `{translation_key}.{state}` is the"
                                      " same as the default icon and thus can be removed")
    return value


_ICON_STATES = _slug_keys(icon_value_validator)
_DATA_ENTRY_ICONS = vol.Schema({"step": {str: {"section": {str: icon_value_validator}}}})

#: icon_schema for an integration of type device/hub/service (``entity`` allowed,
#: ``entity_component`` not). Services: the ``{"service": icon, "sections": {...}}`` form
#: Home Assistant 2025.4 reads (its own components' icons.json), which replaced the plain
#: string of icons.py @ 23d4f3b.
ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("config"): _DATA_ENTRY_ICONS,
        vol.Optional("issues"): vol.Schema({str: {"fix_flow": _DATA_ENTRY_ICONS}}),
        vol.Optional("options"): _DATA_ENTRY_ICONS,
        vol.Optional("services"): _slug_keys({
            vol.Required("service"): icon_value_validator,
            vol.Optional("sections"): _slug_keys(icon_value_validator),
        }),
        vol.Optional("entity"): vol.All(
            _slug_keys(_slug_keys({
                vol.Optional("default"): icon_value_validator,
                vol.Optional("state"): _ICON_STATES,
                vol.Optional("state_attributes"): vol.All(
                    _slug_keys({vol.Optional("default"): icon_value_validator,
                                vol.Optional("state"): _ICON_STATES}),
                    _ensure_not_same_as_default),
            }), cv.slug),
            _ensure_not_same_as_default,
        ),
    }
)


def hassfest_icons(path: Path, services: set[str]) -> list[str]:
    """validate_icon_file; icons of services the integration does not have are refused too."""
    file = path / "icons.json"
    if not file.is_file():
        return []
    try:
        icons = json.loads(file.read_text("utf-8"))
    except ValueError as err:
        return [f"Invalid JSON in icons.json: {err}"]
    errors = _check(ICONS_SCHEMA, icons, "icons.json")
    if unknown := set(icons.get("services", {})) - services:
        errors.append(f"icons.json has icons of services that do not exist: {sorted(unknown)}")
    return errors


# --- home-assistant/brands validate.sh, for custom_components/<domain>/brand/ -------------------

BRAND_FILES = {f"{dark}{kind}{hd}.png" for dark in ("", "dark_") for kind in ("icon", "logo")
               for hd in ("", "@2x")}


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def brand_images(folder: Path) -> list[str]:
    """validate.sh: known file names only, PNG, icon 256x256 (@2x 512x512), logo's shortest
    side 128-256 (@2x 256-512), an hDPI image only beside its normal one, no two variants
    that are the same bytes. HACS (validate/brands.py) needs icon.png."""
    if not (folder / "icon.png").is_file():
        return [f"{folder.name}/icon.png is missing"]
    errors = []
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    for name, data in files.items():
        if name not in BRAND_FILES:
            errors.append(f"Unknown and invalid filename: {name}")
            continue
        size = _png_size(data)
        if size is None:
            errors.append(f"Invalid file type for file: {name}")
            continue
        width, height = size
        hd = "@2x" in name
        if hd and name.replace("@2x", "") not in files:
            errors.append(f"hDPI image {name} was provided, but the normal version is missing")
        if "icon" in name:
            want = 512 if hd else 256
            if (width, height) != (want, want):
                errors.append(f"Invalid icon size {name}: {width}x{height}px, must be {want}x{want}px")
        else:
            low, high = (256, 512) if hd else (128, 256)
            if not low <= min(width, height) <= high:
                errors.append(f"Invalid logo size {name}: {width}x{height}px, "
                              f"shortest side must be {low}-{high}px")
    for first, second in (("icon", "logo"), ("dark_icon", "dark_logo"), ("icon", "dark_icon"),
                          ("logo", "dark_logo")):
        for hd in ("", "@2x"):
            one, two = f"{first}{hd}.png", f"{second}{hd}.png"
            if one in files and two in files and files[one] == files[two]:
                errors.append(f"{two} is identical to {one}")
    for base in ("icon", "logo", "dark_icon", "dark_logo"):
        one, two = f"{base}.png", f"{base}@2x.png"
        if one in files and two in files and files[one] == files[two]:
            errors.append(f"{two} is identical to {one}")
    return errors
