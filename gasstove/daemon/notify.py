"""systemd's service notifications (``Type=notify``, ``WatchdogSec=``), without libsystemd.

The protocol is one datagram per message on the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace): sd_notify(3).
``READY=1`` says the daemon holds its timers and answers commands, so systemd
starts what waits for it; ``WATCHDOG=1``, at half of ``$WATCHDOG_USEC``, says its
event loop still runs: the pings come from a task on that loop, so a loop
blocked by a hung call stops them and systemd restarts the daemon (the timers
are on disk and fire, late, at the next start). Outside systemd, nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

_LOG = logging.getLogger("gasstove.daemon")


class Notifier:
    """Sends sd_notify messages; every call does nothing when systemd did not ask."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None
        if address[:1] in ("/", "@"):
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        #: Seconds between watchdog pings (half of systemd's timeout), or None: no watchdog.
        self.watchdog_interval: float | None = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        # (WATCHDOG_PID: the watchdog is another process's when it names one)
        if self._sock is not None and usec.isdigit() and int(usec) > 0 and \
                pid in ("", str(os.getpid())):
            self.watchdog_interval = int(usec) / 2e6

    def send(self, *lines: str) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as err:  # systemd gone or restarting: the daemon serves on
            _LOG.warning("systemd notification not sent to %s: %s", self._address, err)

    async def watchdog(self) -> None:
        """Ping the watchdog from this event loop for as long as it runs."""
        if self.watchdog_interval is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
