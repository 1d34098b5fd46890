"""The MQTT trust model on a real mosquitto: retained commands, the shipped ACL, TLS.

What a client of the broker that is not gasstove, not the relay and not Home
Assistant can do to a stove: nothing (README "Security", ### MQTT).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gasstove.daemon.service import Daemon

from .fixtures_mqtt import MqttSim
from .test_daemon_mqtt import Watcher, run_daemon, setup  # noqa: F401 (a fixture)


@pytest.mark.parametrize("command", [{"action": "off"}, {"action": "lock"}, {"action": "unlock"},
                                     {"action": "cancel"}])
def test_a_command_retained_while_the_daemon_is_connected_is_not_acted_on(
        setup: tuple[str, str, MqttSim, Watcher, Path], command: dict[str, str]) -> None:  # noqa: F811
    """mosquitto hands a message published with retain to a subscriber already there with
    the flag cleared (MQTT 3.1.1 §3.3.1.3): it looked like a plain command and was acted on."""
    base, _, sim, watcher, config = setup

    def body(daemon: Daemon) -> None:
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        watcher.publish(f"{base}/set", json.dumps({"action": "off", "in": "20m", "id": "t"}))
        watcher.wait(lambda t, p: t == f"{base}/left/state" and p["timer_due"])
        if command["action"] == "unlock":
            watcher.publish(f"{base}/left/set", json.dumps({"action": "lock", "id": "l"}))
            watcher.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id")
                         == "l")
        locked, lit = daemon.stove.locked("left"), sim.burner.lit
        mark = len(watcher.messages)
        watcher.publish(f"{base}/left/set", json.dumps({**command, "id": "r"}), retain=True)
        refused = watcher.wait(lambda t, p: t == f"{base}/result", after=mark)
        assert refused["ok"] is False and refused["exit"] == 2
        assert "retained" in refused["error"] and refused["request"] is None
        # it is gone from the broker: the next connection is not greeted by it
        watcher.wait(lambda t, p: t == f"{base}/left/set" and p == "", after=mark)
        assert daemon.stove.locked("left") is locked and sim.burner.lit is lit
        assert "left" in daemon.timers, "the timer was not cancelled"
        # the same command, not retained, is obeyed
        mark = len(watcher.messages)
        watcher.publish(f"{base}/left/set", json.dumps({**command, "id": "p"}))
        done = watcher.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id")
                            == "p", after=mark)
        assert done["ok"], done

    run_daemon(config, body)
