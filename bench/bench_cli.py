"""One-shot CLI over miio against python-miio's own ``miiocli``, and daemon commands over its socket.

Everything runs against one simulated relay (real miio on UDP, in this
process) and the real console scripts as subprocesses, alternated round by
round so that both tools see the same machine load.

* ``stove lock`` is the fair peer of ``miiocli ... set_property_by 2 1 true bool``:
  both do a handshake and the same property write; ``stove lock`` also reads
  the relay back until it reports the cut (``miiocli`` confirms nothing).
  ``stove off`` is that plus the ``cut_seconds`` pulse and a confirmed
  restore, so it is shown apart, with its own ``cut_ms``.
* ``stove status`` / ``stove off --in 20m`` / ``stove cancel`` through a
  running ``stove serve``: the whole process, start-up to exit.
* Both tools run with a warm bytecode cache, as installed programs do (see
  :func:`installed_env`); one extra line shows ``stove lock`` compiling its
  own source on every run, as it does in an editable install under
  ``PYTHONDONTWRITEBYTECODE=1``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings, free_loopback_host, serve_in_thread

BIN = Path(sys.executable).parent
TOKEN = "00112233445566778899aabbccddeeff"


def installed_env(cache: Path) -> dict[str, str]:
    """The environment both tools are timed in: bytecode cached, as after an install.

    pip writes python-miio's ``.pyc`` files when it installs it. gasstove is
    installed here in editable mode, and this machine sets
    ``PYTHONDONTWRITEBYTECODE=1``: without this, every ``stove`` run would
    compile its ~35 modules from source (~45 ms), which no installed copy
    does. Both tools get the same private cache, filled by an untimed run of each.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}... exited {done.returncode}: {done.stderr.strip()}")
    return elapsed, done.stdout


def run(rounds: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    host = free_loopback_host()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, wiring=Wiring.NORMALLY_CLOSED), Burner("left"))
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(device):
        config = Path(tmp) / "gasstove.yaml"
        config.write_text(
            "stove:\n  name: bench\n  burners:\n    left:\n      cut_seconds: 1s\n"
            f"      relay: {{type: miio, host: {host}, token: {TOKEN}}}\n"
            f"daemon:\n  socket: {tmp}/d.sock\n  database: {tmp}/g.db\n"
        )
        stove = [str(BIN / "stove"), "-c", str(config)]
        miiocli = [str(BIN / "miiocli"), "miotdevice", "--ip", host, "--token", TOKEN,
                   "set_property_by", "2", "1", "true", "bool"]
        env = installed_env(Path(tmp) / "pycache")
        uncompiled = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        del uncompiled["PYTHONPYCACHEPREFIX"]
        for args in (["lock"], ["unlock"], ["off", "--json"]):  # fill the bytecode cache
            _timed([*stove, *args], env)
        _timed(miiocli, env)
        _timed([*stove, "unlock"], env)
        lock, peer, cold, off, cut = [], [], [], [], []
        for _ in range(rounds):
            lock.append(_timed([*stove, "lock"], env)[0])
            _timed([*stove, "unlock"], env)
            peer.append(_timed(miiocli, env)[0])
            _timed([*stove, "unlock"], env)
            cold.append(_timed([*stove, "lock"], uncompiled)[0])
            _timed([*stove, "unlock"], env)
            elapsed, out = _timed([*stove, "off", "--json"], env)
            off.append(elapsed)
            cut.append(json.loads(out)["burners"][0]["cut_ms"])
        m_lock, m_peer = statistics.median(lock), statistics.median(peer)
        rows += [
            ("stove lock (handshake, write, read-back confirmed)", f"median {m_lock:.0f} ms"),
            ("miiocli set_property_by 2 1 true (no confirmation)", f"median {m_peer:.0f} ms"),
            ("ratio stove lock / miiocli", f"{m_lock / m_peer:.2f}"),
            ("stove lock compiling its source each run (no .pyc)",
             f"median {statistics.median(cold):.0f} ms, ratio {statistics.median(cold) / m_peer:.2f}"),
            ("stove off, whole process (incl. 1 s pulse + restore)",
             f"median {statistics.median(off):.0f} ms, cut confirmed after {statistics.median(cut):.0f} ms"),
        ]

        serve = subprocess.Popen([*stove, "serve"], stderr=subprocess.DEVNULL,
                                 env={**env, "GASSTOVE_STATE_DIR": tmp})
        try:
            for _ in range(200):
                if (Path(tmp) / "d.sock").exists():
                    break
                time.sleep(0.05)
            for label, args in (("stove status via daemon", ["status"]),
                                ("stove off --in 20m via daemon", ["off", "--in", "20m"]),
                                ("stove cancel via daemon", ["cancel"])):
                times = [_timed([*stove, *args], env)[0] for _ in range(rounds * 2)]
                rows.append((label, f"median {statistics.median(times):.0f} ms (target <= 150)"))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(10)
    return rows


def import_times() -> list[tuple[str, str]]:
    """``python -X importtime``: what each path imports, cumulative, best of 3 (bytecode cached)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = installed_env(Path(tmp))
        for module in ("gasstove.cli.main", "gasstove.adapters.config_file",
                       "gasstove.domain.config", "gasstove.adapters.miio_relay", "miio"):
            best = min(_import_us(module, env) for _ in range(3))
            rows.append((f"import {module}", f"{best / 1000:.0f} ms"))
    return rows


def _import_us(module: str, env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True, env=env)
    last = [line for line in done.stderr.splitlines() if line.rstrip().endswith(f"| {module}")]
    return int(last[-1].split("|")[1])


if __name__ == "__main__":
    for name, value in [*import_times(), *run(3)]:
        print(f"{name:<58} {value}")
