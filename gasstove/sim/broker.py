"""A private mosquitto on a free loopback port, for `stove demo` and the tests.

mosquitto 2 listens on nothing and refuses anonymous clients unless told, so
it gets a config file of its own; nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def mosquitto_installed() -> bool:
    return Path(MOSQUITTO).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mosquitto:
    """One mosquitto process; ``restart()`` keeps the port (a broker restarted mid-session).

    ``extra``: more lines for its configuration file (limits, for benchmarks).
    """

    def __init__(self, workdir: Path, *, tcp_nodelay: bool = True, extra: str = "") -> None:
        if not mosquitto_installed():
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.conf = workdir / f"mosquitto-{self.port}.conf"
        self.conf.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\n"
            # mosquitto's default (false) holds a second small packet to a client
            # until that client ACKs the first: +40 ms on a command to a relay.
            f"set_tcp_nodelay {'true' if tcp_nodelay else 'false'}\n{extra}"
        )
        self.log = workdir / f"mosquitto-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log,
                                          stderr=subprocess.STDOUT)
        until = time.monotonic() + 5
        while time.monotonic() < until:
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-500:]}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
