"""`stove ha install` into a fresh config directory: the component runs on its vendored library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from custom_components.gasstove.const import DOMAIN

from .conftest import ROOT, subprocess_env

# Run by Home Assistant's own Python (paho 1.6 on 2024.3), seeing only the
# installed copy: no PYTHONPATH to this checkout.
CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import custom_components.gasstove  # puts lib/ first on sys.path
from custom_components.gasstove import mqtt_link
from custom_components.gasstove.stove_config import build_relays
import gasstove, gasstove.adapters.mqtt_relay as relay_module
from gasstove.domain.config import StoveConfig

config = StoveConfig.model_validate({"burners": {"left": {"relay": {
    "type": "mqtt", "dialect": "tasmota", "topic": "stove"}}}})
relay = build_relays(object(), config)["left"]
assert isinstance(relay, relay_module.MqttRelay), type(relay)
assert isinstance(relay._link, mqtt_link.HassMqttLink)
print(gasstove.__file__)
print(relay_module.__file__)
print(sorted(m for m in sys.modules if m.split(".")[0] == "paho" and m.count(".") < 2))
"""


def test_install_vendors_the_library_and_the_component_uses_it(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    stove = ROOT / ".venv" / "bin" / "stove"
    cmd = [str(stove)] if stove.exists() else [sys.executable, "-m", "gasstove"]
    env = subprocess_env()
    done = subprocess.run([*cmd, "ha", "install", str(config_dir)], capture_output=True, text=True,
                          timeout=60, env=subprocess_env(PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    component = config_dir / "custom_components" / DOMAIN
    lib = component / "lib" / "gasstove"
    assert (lib / "adapters" / "mqtt_relay.py").is_file()
    assert not (component / "mqtt_relay.py").exists()  # one relay implementation, the library's
    assert not list(component.rglob("__pycache__"))
    # Where Home Assistant looks for automation blueprints: <config>/blueprints/automation/<author>/.
    blueprint = config_dir / "blueprints" / "automation" / DOMAIN / "xiaoai_stove.yaml"
    assert blueprint.read_bytes() == (ROOT / "blueprints" / "automation" / DOMAIN
                                      / "xiaoai_stove.yaml").read_bytes()

    done = subprocess.run([sys.executable, "-c", CHECK, str(config_dir)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    library, relay_module, paho = done.stdout.splitlines()
    assert library == str(lib / "__init__.py")
    assert relay_module == str(lib / "adapters" / "mqtt_relay.py")
    assert paho == "[]"  # the relay logic needs no MQTT client: Home Assistant's carries it
