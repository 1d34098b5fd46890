"""The MQTT trust model on a real mosquitto: retained commands, the shipped ACL, TLS.

What a client of the broker that is not gasstove, not the relay and not Home
Assistant can do to a stove: nothing (README "Security", ### MQTT).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gasstove.adapters.relays import build_relays
from gasstove.control import Stove
from gasstove.daemon.service import Daemon
from gasstove.domain.config import Config
from gasstove.sim.broker import free_port

from .fixtures_mqtt import Mosquitto, MqttSim
from .test_control import act
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
        # (its answer comes once the history is written too, after the state that shows it)
        watcher.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id") == "t")
        if command["action"] == "unlock":
            watcher.publish(f"{base}/left/set", json.dumps({"action": "lock", "id": "l"}))
            watcher.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id")
                         == "l")
        locked, lit = daemon.stove.locked("left"), sim.burner.lit
        mark = len(watcher.messages)
        watcher.publish(f"{base}/left/set", json.dumps({**command, "id": "r"}), retain=True)
        refused = watcher.wait(lambda t, p: t == f"{base}/result", after=mark)
        assert refused["ok"] is False and refused["exit"] == 2, refused
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


# -- certificates made here (a CA, two broker certificates, a client's) --------------

def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None,
          *, names: list[x509.GeneralName] | None = None) -> x509.Certificate:
    """A certificate for ``name``, signed by ``issuer`` (name, key), or a CA if None."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0] if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None),
                              critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


@dataclass
class Pki:
    ca: Path
    localhost: tuple[Path, Path]  #: a broker certificate for 127.0.0.1 and localhost
    other: tuple[Path, Path]  #: one for other.example only
    client: tuple[Path, Path]  #: gasstove's client certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("gasstove test CA", ca_key, None)
    issuer = (ca.subject, ca_key)

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
              ) -> tuple[Path, Path]:
        crt, pem = folder / f"{stem}.crt", folder / f"{stem}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        pem.chmod(0o600)
        return crt, pem

    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pairs = {}
    for stem, names in (
        ("localhost", [x509.DNSName("localhost"),
                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("other", [x509.DNSName("other.example")]),
        ("client", None),
    ):
        key = _key()
        pairs[stem] = write(stem, _cert(stem, key, issuer, names=names), key)
    return Pki(folder / "ca.crt", pairs["localhost"], pairs["other"], pairs["client"])



# -- the shipped access list (contrib/mosquitto/acl) on a real mosquitto ----------------

CONTRIB = Path(__file__).parent.parent / "contrib" / "mosquitto"
USERS = ("gasstove", "kitchen_relay", "homeassistant", "zigbee2mqtt", "intruder")
RELAY = {"type": "mqtt", "dialect": "tasmota", "topic": "kitchen_relay"}
#: gasstove's password where the broker does not check it (it must show nowhere)
PASSWORD = "s3cret-" + secrets.token_hex(4)


def _stove(port: int, **mqtt: Any) -> Stove:
    """A stove with one Tasmota relay, through the broker on 127.0.0.1:``port``."""
    config = Config.model_validate({
        "stove": {"deadline": 2.0, "burners": {"front": {"cut_seconds": 1, "relay": RELAY}}},
        "mqtt": {"host": "127.0.0.1", "port": port, "username": "gasstove",
                 "password": PASSWORD, **mqtt},
    })
    return Stove(config.stove, build_relays(config))


@pytest.fixture
def guarded(tmp_path: Path, configured_mosquitto: Callable[[str], Mosquitto], pki: Pki,
            ) -> Guarded:
    """mosquitto as contrib/mosquitto/ says: its mosquitto.conf and ACL, and a password
    file made by mosquitto_passwd -b.

    ``intruder`` is any other client with a valid password (a camera, a guest's
    app): the ACL names it nowhere, so it may do nothing.
    """
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    users = {name: (name, secrets.token_urlsafe(12)) for name in USERS}
    for name, password in users.values():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, password], check=True,
                       capture_output=True)
    shutil.copy(CONTRIB / "acl", tmp_path / "acl")
    conf, tls_port = shipped_conf(tmp_path, pki, pki.localhost)
    return Guarded(configured_mosquitto(conf), tls_port, users)


@dataclass
class Guarded:
    broker: Mosquitto  #: its plain listener (the relay's)
    tls_port: int  #: its TLS listener, certificate for 127.0.0.1 (gasstove's)
    users: dict[str, tuple[str, str]]  #: name: (user, password)


def shipped_conf(folder: Path, pki: Pki, server: tuple[Path, Path]) -> tuple[str, int]:
    """contrib/mosquitto/mosquitto.conf with this test's files and ports (its plain
    listener is the fixture's), and the port of its TLS listener."""
    conf, tls_port = (CONTRIB / "mosquitto.conf").read_text(), free_port()
    for shipped, ours in (("/etc/mosquitto/gasstove.passwd", folder / "passwd"),
                          ("/etc/mosquitto/gasstove.acl", folder / "acl"),
                          ("/etc/mosquitto/certs/ca.crt", pki.ca),
                          ("/etc/mosquitto/certs/broker.crt", server[0]),
                          ("/etc/mosquitto/certs/broker.key", server[1]),
                          ("listener 1883\n", ""),
                          ("listener 8883", f"listener {tls_port} 127.0.0.1")):
        assert shipped in conf
        conf = conf.replace(shipped, str(ours))
    return conf, tls_port


def _client(broker: Mosquitto, auth: tuple[str, str] | None) -> paho.Client:
    """A v5 client: the broker answers each refused publish with reason code 0x87."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if auth is not None:
        client.username_pw_set(*auth)
    connected = threading.Event()
    codes: list[ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, rc, _p: (codes.append(rc), connected.set())
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert connected.wait(5)
    if codes[0].is_failure:
        client.loop_stop()
        raise ConnectionRefusedError(str(codes[0]))
    return client


class Forger:
    """Publishes the device's "ON" reports every 10 ms, as the intruder, and counts the
    broker's answers (v5 PUBACK reason codes)."""

    def __init__(self, client: paho.Client) -> None:
        self.client, self.sent, self.refused = client, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        client.on_publish = self._puback
        self._thread.start()

    def _puback(self, _c: Any, _u: Any, _mid: int, rc: ReasonCode, _p: Any) -> None:
        self.refused += rc.is_failure

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sent += 1
            self.client.publish("stat/kitchen_relay/POWER", "ON", qos=1)
            self.client.publish("stat/kitchen_relay/RESULT",
                                json.dumps({"POWER": "ON", "forged": self.sent}), qos=1)
            self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        time.sleep(0.2)  # the last PUBACKs
        return 2 * self.sent


@pytest.mark.parametrize("relay_works", [False, True])
def test_a_foreign_clients_forged_reports_are_dropped_and_the_cut_is_told_truly(
        guarded: Guarded, mqtt_sim: Callable[..., MqttSim], relay_works: bool) -> None:
    """On an open broker a forged stat/<t>/POWER "confirmed" a cut the device never made
    (38 ms), and a retained LWT Offline failed every cut. The ACL drops both."""
    broker, users = guarded.broker, guarded.users
    with pytest.raises(ConnectionRefusedError):
        _client(broker, None)  # no user: not even connected
    sim = mqtt_sim({k: v for k, v in RELAY.items() if k != "type"}, broker=broker,
                   auth=users["kitchen_relay"])
    sim.sim.ignore_commands = not relay_works
    # what gasstove would hear: its own user reads the relay's topics
    listener = _client(broker, users["gasstove"])
    heard: list[bytes] = []
    listener.on_message = lambda _c, _u, msg: heard.append(msg.payload)
    listener.subscribe([("stat/kitchen_relay/#", 1), ("tele/kitchen_relay/LWT", 1)])
    intruder = _client(broker, users["intruder"])
    offline = intruder.publish("tele/kitchen_relay/LWT", "Offline", qos=1, retain=True)
    offline.wait_for_publish(5)
    forger = Forger(intruder)
    try:
        stove = _stove(broker.port, password=users["gasstove"][1])
        started = time.monotonic()
        (outcome,) = act(stove, "shut_off", ["front"])
        took = time.monotonic() - started
    finally:
        forged = forger.stop()
        intruder.loop_stop()
        listener.loop_stop()
    print(f"forged reports: {forged} sent, {forger.refused} refused by the broker (0x87), "
          f"{sum(b'forged' in p for p in heard)} delivered; cut answered in {took:.2f} s")
    assert forger.refused == forged > 20
    assert not any(b"forged" in p or p == b"Offline" for p in heard)
    if relay_works:
        assert outcome.ok and outcome.restored, outcome.message
        assert not sim.burner.lit
    else:
        assert not outcome.ok and "NOT confirmed" in outcome.message, outcome.message
        assert sim.burner.lit


def test_a_wrong_password_is_refused_at_once_and_shown_nowhere(
        guarded: Guarded, caplog: pytest.LogCaptureFixture) -> None:
    started = time.monotonic()
    (outcome,) = act(_stove(guarded.broker.port), "shut_off", ["front"])
    print(f"wrong password: {time.monotonic() - started:.3f} s: {outcome.message}")
    assert not outcome.ok and "refused the connection" in outcome.message
    assert time.monotonic() - started < 1.0
    assert PASSWORD not in outcome.message + caplog.text + repr(outcome)


def _daemon_config(tmp_path: Path, port: int, auth: tuple[str, str], ca_file: Path) -> Path:
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"""\
stove:
  name: kitchen
  deadline: 2s
  burners:
    left:
      cut_seconds: 1s
      relay: {{type: mqtt, dialect: tasmota, topic: kitchen_relay}}
mqtt: {{host: 127.0.0.1, port: {port}, username: {auth[0]}, password: "{auth[1]}",
       ca_file: {ca_file}}}
daemon:
  database: {tmp_path}/g.db
  socket: {tmp_path}/d.sock
  mqtt_topic: gasstove/kitchen
""")
    return config


def test_only_home_assistant_may_command_the_daemon(
        tmp_path: Path, guarded: Guarded, pki: Pki, mqtt_sim: Callable[..., MqttSim]) -> None:
    """The intruder's cancel, unlock and off on the daemon's command topics never reach it;
    Home Assistant's do (its right to ask for shut-offs is also one to cancel and unlock)."""
    broker, users = guarded.broker, guarded.users
    mqtt_sim({k: v for k, v in RELAY.items() if k != "type"}, broker=broker,
                   auth=users["kitchen_relay"])
    # the daemon as the README advises: its own user, over TLS
    config = _daemon_config(tmp_path, guarded.tls_port, users["gasstove"], pki.ca)
    ha = Watcher(broker, "gasstove/kitchen/#", "homeassistant/#", auth=users["homeassistant"])
    intruder = Watcher(broker, "gasstove/kitchen/#", auth=users["intruder"])
    base = "gasstove/kitchen"

    def body(daemon: Daemon) -> None:
        ha.wait(lambda t, p: t == f"{base}/left/state" and p["reachable"])
        ha.wait(lambda t, p: t.endswith("/left_shut_off/config"))  # discovery reached HA
        ha.publish(f"{base}/set", json.dumps({"action": "off", "in": "20m", "id": "t"}))
        ha.wait(lambda t, p: t == f"{base}/left/state" and p["timer_due"])
        ha.publish(f"{base}/left/set", json.dumps({"action": "lock", "id": "l"}))
        ha.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id") == "l")
        ha.wait(lambda t, p: t == f"{base}/left/state" and p["locked"])
        mark = len(ha.messages)
        for command in ({"action": "cancel"}, {"action": "unlock"}, {"action": "off"},
                        {"action": "lock"}):
            intruder.publish(f"{base}/set", json.dumps(command))
            intruder.publish(f"{base}/left/set", json.dumps(command))
            intruder.publish(f"{base}/left/set", json.dumps(command), retain=True)
        for utterance in ("关火", "取消定时", "turn off the stove"):  # the say topic: the same rule
            intruder.publish(f"{base}/say", utterance)
            intruder.publish(f"{base}/say", utterance, retain=True)
        # forged state and availability of the daemon itself
        intruder.publish(f"{base}/left/state", json.dumps({"status": "ready"}), retain=True)
        intruder.publish(f"{base}/availability", "offline", retain=True)
        ha.publish(f"{base}/set", json.dumps({"action": "status", "id": "after"}))
        ha.wait(lambda t, p: t == f"{base}/result" and (p["request"] or {}).get("id") == "after",
                after=mark)
        forged = [(t, p) for t, p, _ in ha.messages[mark:] if p in (
            "offline", {"status": "ready"}) or (t.endswith("/set") and "id" not in p)
            or t.startswith(f"{base}/say")]
        assert forged == [], "nothing of the intruder's reached HA"
        assert [p["request"]["id"] for t, p, _ in ha.messages[mark:]
                if t == f"{base}/result"] == ["after"], "only HA's command was answered"
        assert intruder.messages == [], "the intruder reads nothing either"
        assert daemon.stove.locked("left") and "left" in daemon.timers
        ha.publish(f"{base}/say", json.dumps({"text": "还有多久", "id": "s"}))
        assert ha.wait(lambda t, p: t == f"{base}/say/result")["id"] == "s"
        # Home Assistant's own cancel and unlock are obeyed: that is its right
        ha.publish(f"{base}/set", json.dumps({"action": "cancel", "id": "c"}))
        ha.wait(lambda t, p: t == f"{base}/left/state" and p["timer_due"] is None)
        ha.publish(f"{base}/left/set", json.dumps({"action": "unlock", "id": "u"}))
        ha.wait(lambda t, p: t == f"{base}/left/state" and not p["locked"])

    try:
        run_daemon(config, body)
    finally:
        ha.close()
        intruder.close()


# -- TLS to the broker ------------------------------------------------------------------

def _tls_broker(start: Callable[[str], Mosquitto], pki: Pki, server: tuple[Path, Path], *,
                require_certificate: bool = False) -> tuple[Mosquitto, int]:
    """The plain listener for the simulated relay, a TLS one for gasstove."""
    port = free_port()
    broker = start(f"allow_anonymous true\nlistener {port} 127.0.0.1\ncafile {pki.ca}\n"
                   f"certfile {server[0]}\nkeyfile {server[1]}\n"
                   f"require_certificate {str(require_certificate).lower()}\n")
    return broker, port




@pytest.mark.parametrize("require_certificate", [False, True])
def test_tls_with_our_ca_connects_and_cuts(
        pki: Pki, configured_mosquitto: Callable[[str], Mosquitto],
        mqtt_sim: Callable[..., MqttSim], require_certificate: bool) -> None:
    broker, port = _tls_broker(configured_mosquitto, pki, pki.localhost,
                               require_certificate=require_certificate)
    sim = mqtt_sim({k: v for k, v in RELAY.items() if k != "type"}, broker=broker)
    client = ({"certfile": str(pki.client[0]), "keyfile": str(pki.client[1])}
              if require_certificate else {})
    stove = _stove(port, ca_file=str(pki.ca), **client)
    assert stove.relays["front"].describe()  # built; the port is the TLS one
    started = time.monotonic()
    (outcome,) = act(stove, "shut_off", ["front"])
    print(f"TLS (client certificate: {require_certificate}): cut confirmed and restored "
          f"{time.monotonic() - started:.2f} s after start, TLS connection included")
    assert outcome.ok and outcome.restored, outcome.message
    assert not sim.burner.lit


@pytest.mark.parametrize("insecure", [False, True])
def test_tls_refuses_a_broker_whose_certificate_names_another_host(
        pki: Pki, configured_mosquitto: Callable[[str], Mosquitto],
        mqtt_sim: Callable[..., MqttSim], caplog: pytest.LogCaptureFixture,
        insecure: bool) -> None:
    """Signed by our CA, but for other.example: anyone holding such a certificate could
    pose as the broker. Refused at once, in one line, unless tls_insecure says otherwise."""
    broker, port = _tls_broker(configured_mosquitto, pki, pki.other)
    sim = mqtt_sim({k: v for k, v in RELAY.items() if k != "type"}, broker=broker)
    stove = _stove(port, ca_file=str(pki.ca), tls_insecure=insecure)
    started = time.monotonic()
    (outcome,) = act(stove, "shut_off", ["front"])
    took = time.monotonic() - started
    if insecure:
        assert outcome.ok, outcome.message
        assert "not checked against its host name" in caplog.text
        return
    print(f"refused in {took:.3f} s: {outcome.message}")
    assert not outcome.ok and sim.burner.lit
    assert "certificate is not valid for '127.0.0.1'" in outcome.message
    assert "\n" not in outcome.message
    assert took < 1.0, "a wrong certificate is not worth waiting the deadline for"
    assert PASSWORD not in outcome.message + caplog.text


def test_tls_without_the_client_certificate_the_broker_asks_for_fails_in_time(
        pki: Pki, configured_mosquitto: Callable[[str], Mosquitto],
        mqtt_sim: Callable[..., MqttSim], caplog: pytest.LogCaptureFixture) -> None:
    broker, port = _tls_broker(configured_mosquitto, pki, pki.localhost,
                               require_certificate=True)
    sim = mqtt_sim({k: v for k, v in RELAY.items() if k != "type"}, broker=broker)
    stove = _stove(port, ca_file=str(pki.ca))
    started = time.monotonic()
    (outcome,) = act(stove, "shut_off", ["front"])
    print(f"no client certificate: {time.monotonic() - started:.2f} s: {outcome.message}")
    assert not outcome.ok and sim.burner.lit
    assert "certificate required" in outcome.message
    assert time.monotonic() - started < 1.0, "the broker said why: no need to wait"
    assert PASSWORD not in outcome.message + caplog.text


def test_a_missing_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "gasstove.yaml"
    config.write_text(f"""\
stove:
  burners:
    front: {{relay: {{type: mqtt, dialect: tasmota, topic: kitchen_relay}}}}
mqtt:
  host: 127.0.0.1
  password: {PASSWORD}
  username: gasstove
  ca_file: {tmp_path}/nowhere/ca.crt
""")
    done = subprocess.run([sys.executable, "-m", "gasstove", "-c", str(config), "off"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith(f"{config}:8 mqtt.ca_file: no readable file {tmp_path}/nowhere/ca.crt")
    assert PASSWORD not in done.stdout + done.stderr


# -- the stove guard's inputs (issue 16) ------------------------------------------------


def test_the_shipped_access_list_lets_only_the_bridge_write_the_guards_inputs(
        guarded: Guarded) -> None:
    """A forged "present" would hold an inactivity cut off, a forged alarm cut and lock
    the stove: with contrib/mosquitto/acl only the sensors' bridge may publish them."""
    broker, users = guarded.broker, guarded.users
    inputs = ("zigbee2mqtt/kitchen_motion", "zigbee2mqtt/kitchen_smoke",
              "zigbee2mqtt/kitchen_smoke/availability", "zigbee2mqtt/stovetop")
    heard: list[str] = []
    stove = _client(broker, users["gasstove"])
    stove.on_message = lambda _c, _u, msg: heard.append(msg.payload.decode())
    for topic in inputs:
        stove.subscribe(topic, qos=1)
    time.sleep(0.3)
    try:
        for who in ("intruder", "homeassistant", "gasstove", "zigbee2mqtt"):
            client = _client(broker, users[who])
            refused: list[bool] = []
            client.on_publish = lambda _c, _u, _m, rc, _p, refused=refused: refused.append(
                rc.is_failure)
            for topic in inputs:
                client.publish(topic, json.dumps({"from": who}), qos=1).wait_for_publish(5)
            time.sleep(0.3)
            client.loop_stop()
            client.disconnect()
            assert refused == [who != "zigbee2mqtt"] * len(inputs), who
        assert sorted(heard) == [json.dumps({"from": "zigbee2mqtt"})] * len(inputs)
    finally:
        stove.loop_stop()
        stove.disconnect()
