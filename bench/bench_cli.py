"""Start-up: one-shot ``stove`` over miio, daemon commands, against ``python -c pass`` and ``miiocli``.

Everything runs against one simulated relay (real miio on UDP, in this
process) and the real interpreter as subprocesses, each tree through the
console script pip would write for it (its ``pyproject.toml`` entry point),
alternated round by round with ``python -c pass`` and ``miiocli`` so that all
see the same machine load. "before" is the tree at ``--baseline`` (``git
archive``), "after" this tree.

* ``stove off`` (no daemon): process start to the relay's contact opening (the
  simulator's own record of its relay energising, normally_closed wiring), and
  the whole process with the 1 s pulse and the confirmed restore.
* ``stove lock`` is the fair peer of ``miiocli ... set_property_by 2 1 true bool``:
  both do a handshake and the same property write; ``stove lock`` also reads
  the relay back until it reports the cut (``miiocli`` confirms nothing).
* ``stove status`` / ``stove off --in 20m`` / ``stove cancel`` through a
  running ``stove serve`` (one per tree): the whole process, start to exit.
* Every tool runs with a warm bytecode cache, as installed programs do (see
  :func:`installed_env`).

    .venv/bin/python bench/bench_cli.py [--rounds 7] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_timers import BASELINE, ROOT, baseline_tree

from gasstove.domain.plan import Wiring
from gasstove.sim.burner import Burner
from gasstove.sim.miio_device import MiioSimDevice, MiioSimSettings, free_loopback_host, serve_in_thread

TOKEN = "00112233445566778899aabbccddeeff"
#: miiocli from python-miio 0.5.12 needs click<8.2, which gasstove does not cap: it
#: gets a venv of its own (same interpreter), built on the first run.
MIIOCLI_VENV = ROOT / ".venv-bench-miiocli"
MIIOCLI_REQS = ["python-miio==0.5.12", "click>=8.1,<8.2"]


def miiocli_script() -> Path:
    """The ``miiocli`` console script of the bench's own venv (built if missing)."""
    script = MIIOCLI_VENV / "bin" / "miiocli"
    stamp = MIIOCLI_VENV / ".reqs"
    want = f"{sys.version}\n{MIIOCLI_REQS}"
    if not script.exists() or not stamp.exists() or stamp.read_text() != want:
        print(f"building {MIIOCLI_VENV} for miiocli ({', '.join(MIIOCLI_REQS)})...",
              file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(MIIOCLI_VENV)], check=True)
        subprocess.run([str(MIIOCLI_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *MIIOCLI_REQS], check=True)
        stamp.write_text(want)
    return script


def installed_env(cache: Path) -> dict[str, str]:
    """The environment every tool is timed in: bytecode cached, as after an install.

    pip writes python-miio's ``.pyc`` files when it installs it. gasstove is
    installed here in editable mode, and this machine sets
    ``PYTHONDONTWRITEBYTECODE=1``: without this, every ``stove`` run would
    compile its modules from source (~45 ms), which no installed copy does.
    All tools get the same private cache, filled by untimed runs.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def console_script(tree: Path, into: Path) -> Path:
    """The ``stove`` script pip writes for ``tree``'s entry point (as in .venv/bin/stove)."""
    entry = tomllib.loads((tree / "pyproject.toml").read_text())["project"]["scripts"]["stove"]
    module, func = entry.split(":")
    script = into / "stove"
    script.write_text(f"import sys\nfrom {module} import {func}\nif __name__ == '__main__':\n"
                      f"    sys.exit({func}())\n")
    return script


def _timed(argv: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


class Contact:
    """When the simulated relay last energised (a cut, with normally_closed wiring)."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.changed = threading.Event()

    def __call__(self, what: str) -> None:
        if what.startswith("relay energised"):
            self.at = time.perf_counter()
            self.changed.set()


def _to_contact(argv: list[str], env: dict[str, str], contact: Contact) -> tuple[float, float]:
    """(ms from process start to the contact opening, ms of the whole process)."""
    contact.at = None
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    whole = (time.perf_counter() - start) * 1000
    if done.returncode != 0 or contact.at is None:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {done.returncode}: {done.stderr.strip()}")
    return (contact.at - start) * 1000, whole


@contextmanager
def _daemon(stove: list[str], env: dict[str, str], socket: Path) -> Iterator[None]:
    serve = subprocess.Popen([*stove, "serve"], stderr=subprocess.DEVNULL, env=env)
    try:
        for _ in range(400):
            if socket.exists():
                break
            time.sleep(0.05)
        yield
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(10)


def run(rounds: int, baseline: str = BASELINE) -> list[tuple[str, str]]:
    miiocli_bin = miiocli_script()
    host = free_loopback_host()
    contact = Contact()
    device = MiioSimDevice(MiioSimSettings(host, TOKEN, wiring=Wiring.NORMALLY_CLOSED),
                           Burner("left"), on_change=contact)
    with tempfile.TemporaryDirectory() as tmp_name, serve_in_thread(device):
        tmp = Path(tmp_name)
        env = installed_env(tmp / "pycache")
        python = [sys.executable]
        miiocli = [str(miiocli_bin), "miotdevice", "--ip", host, "--token", TOKEN,
                   "set_property_by", "2", "1", "true", "bool"]
        trees = {"before": baseline_tree(baseline, (tmp / "before")), "after": ROOT}
        stoves, envs, sockets = {}, {}, {}
        for name, tree in trees.items():
            (tmp / name).mkdir(exist_ok=True)
            config = tmp / name / "gasstove.yaml"
            sockets[name] = tmp / name / "d.sock"
            config.write_text(
                "stove:\n  name: bench\n  burners:\n    left:\n      cut_seconds: 1s\n"
                f"      relay: {{type: miio, host: {host}, token: {TOKEN}}}\n"
                f"daemon:\n  socket: {sockets[name]}\n  database: {tmp / name}/g.db\n")
            config.chmod(0o600)
            stoves[name] = [*python, str(console_script(tree, tmp / name)), "-c", str(config)]
            envs[name] = {**env, "PYTHONPATH": str(tree), "GASSTOVE_STATE_DIR": str(tmp / name)}
            for args in (["lock"], ["unlock"], ["off"]):  # fill the bytecode cache
                _timed([*stoves[name], *args], envs[name])
        _timed(miiocli, env)
        _timed([*stoves["after"], "unlock"], envs["after"])
        bare: list[float] = []
        peer: list[float] = []
        got: dict[str, dict[str, list[float]]] = {n: {} for n in trees}

        def add(name: str, key: str, value: float) -> None:
            got[name].setdefault(key, []).append(value)

        for _ in range(rounds):
            bare.append(_timed([*python, "-c", "pass"], env))
            peer.append(_timed(miiocli, env))
            _timed([*stoves["after"], "unlock"], envs["after"])
            for name in trees:
                to_contact, whole = _to_contact([*stoves[name], "off"], envs[name], contact)
                add(name, "off_contact", to_contact)
                add(name, "off_whole", whole)
                add(name, "lock", _timed([*stoves[name], "lock"], envs[name]))
                _timed([*stoves[name], "unlock"], envs[name])
        with _daemon(stoves["before"], envs["before"], sockets["before"]), \
                _daemon(stoves["after"], envs["after"], sockets["after"]):
            for _ in range(rounds):
                bare.append(_timed([*python, "-c", "pass"], env))
                for name in trees:
                    for key, args in (("status", ["status"]), ("off_in", ["off", "--in", "20m"]),
                                      ("cancel", ["cancel"])):
                        add(name, key, _timed([*stoves[name], *args], envs[name]))
    base, m_peer = statistics.median(bare), statistics.median(peer)
    rows = [("python -c pass (the yardstick)", f"median {base:.0f} ms"),
            ("miiocli set_property_by 2 1 true (no confirmation)", f"median {m_peer:.0f} ms")]
    for name in trees:
        m = {key: statistics.median(values) for key, values in got[name].items()}
        label = f"{name} ({baseline if name == 'before' else 'this tree'})"
        rows += [
            (f"stove off, no daemon: start to contact open, {label}",
             f"median {m['off_contact']:.0f} ms = {m['off_contact'] / base:.1f}x python -c pass "
             f"(target <= 5x); whole process with 1 s pulse {m['off_whole']:.0f} ms"),
            (f"stove lock / miiocli, {label}",
             f"median {m['lock']:.0f} ms, ratio {m['lock'] / m_peer:.2f} (target <= 0.5)"),
            (f"via daemon: status / off --in 20m / cancel, {label}",
             " / ".join(f"{m[k]:.0f} ms = {m[k] / base:.1f}x" for k in ("status", "off_in", "cancel"))
             + " (target <= 4x)"),
        ]
    return rows


def import_times() -> list[tuple[str, str]]:
    """``python -X importtime``: what each path imports, cumulative, best of 3 (bytecode cached)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**installed_env(Path(tmp)), "PYTHONPATH": str(ROOT)}
        for module in ("gasstove.cli.fast", "gasstove.cli.main", "gasstove.adapters.config_file",
                       "gasstove.domain.config", "gasstove.adapters.miio_relay", "miio"):
            best = min(_import_us(module, env) for _ in range(3))
            rows.append((f"import {module}", f"{best / 1000:.0f} ms"))
    return rows


def _import_us(module: str, env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True, env=env)
    last = [line for line in done.stderr.splitlines() if line.rstrip().endswith(f"| {module}")]
    return int(last[-1].split("|")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE)
    args = parser.parse_args()
    for name, value in [*import_times(), *run(args.rounds, args.baseline)]:
        print(f"{name:<58} {value}")


if __name__ == "__main__":
    main()
