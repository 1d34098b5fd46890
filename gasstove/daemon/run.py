"""Run the daemon: store, relays, timers, socket; until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..adapters.burner_guard import FileBurnerGuard
from ..adapters.disk import BackgroundSink, DiskWriter
from ..adapters.history import EventLog
from ..domain.config import Config
from ..domain.config_source import ConfigSource
from ..records import Recorder
from .clock import Clock, SystemClock
from .notify import Notifier
from .service import Daemon

if TYPE_CHECKING:
    from ..adapters.mqtt_relay import MqttLink
    from ..control import Stove

_LOG = logging.getLogger("gasstove.daemon")


async def serve(config: Config, *, clock: Clock | None = None,
                ready: Callable[[Daemon], None] | None = None,
                stop: asyncio.Event | None = None,
                source: ConfigSource | None = None) -> None:
    """``source``: the file ``config`` was read from (commands naming another are refused)."""
    from ..adapters.relays import build_relays
    from ..adapters.store import Store
    from ..control import Stove
    from .server import start_socket

    clock = clock or SystemClock()
    stop = stop or asyncio.Event()
    _enough_files(len(config.stove.burners))
    store = Store(config.daemon.database_path())
    broker, remote = None, None
    if config.mqtt is not None:
        from ..adapters.mqtt import MqttBroker
        from ..domain.remote import remote_for
        from .mqtt_remote import MqttRemote

        topics = remote_for(config.stove.name, config.stove.burners,
                            topic=config.daemon.mqtt_topic,
                            discovery_prefix=config.daemon.discovery_prefix)
        broker = MqttBroker(config.mqtt, will=MqttRemote.will(topics))
    guard = FileBurnerGuard(config.daemon.burners_path())
    guard.open_all(config.stove.burners)  # now, not in the first cut of them all

    def relays_link() -> MqttLink:  # the remote control's connection, shared with the relays
        assert broker is not None  # an MQTT relay requires the mqtt: section
        return broker

    stove = Stove(config.stove, build_relays(config, relays_link), sleep=clock.sleep, guard=guard)
    log = EventLog.open(store.path)
    disk = DiskWriter()  # every write of the daemon, off its event loop
    recorder = Recorder(config.stove.name, log and BackgroundSink(log, disk),
                        on_failure=config.alerts.on_failure, on_cut=config.alerts.on_cut,
                        wall=clock.wall)
    await adopt_locks(stove, store.take_locks())
    daemon = Daemon(stove, store, clock, recorder=recorder, source=source, disk=disk,
                    guard=config.guard)
    if broker is not None:
        from ..adapters.mqtt_relay import MqttRelay

        remote = MqttRemote(daemon, broker, topics)
        for name, relay in stove.relays.items():
            if isinstance(relay, MqttRelay):  # its LWT and live reports reach HA at once
                relay.listeners.append(
                    lambda name=name, relay=relay: daemon.relay_reported(  # type: ignore[misc]
                        name, relay.online, relay.energised))
    server = None
    poller = pruner = watchdog = None
    notifier = Notifier()  # (systemd's Type=notify and WatchdogSec=; nothing outside systemd)
    socket_path = config.daemon.socket_path()
    try:
        daemon.start()
        started()
        # Before the socket answers: a command is not told "resting" of a relay
        # that a pulse cut short by a crash still holds open.
        await recorder.outcomes(await stove.finish_pulses(config.stove.burners), source="start")
        server = await start_socket(daemon, socket_path)
        if remote is not None:
            remote.start()
        poller = asyncio.create_task(daemon.poll(config.daemon.poll_interval))
        if log is not None:
            pruner = asyncio.create_task(prune_history(log, disk, clock, config))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        _LOG.info("serving stove %r from %s: %d burner(s), %d timer(s) pending, socket %s, "
                  "database %s", config.stove.name, source.shown() if source else "(no file)",
                  len(config.stove.burners), len(daemon.timers), socket_path, store.path)
        # Timers held, socket answering, MQTT connecting (in the background, with
        # back-off: a broker that is down must not keep the miio timers from firing).
        notifier.send("READY=1", f"STATUS=serving stove {config.stove.name!r}: "
                      f"{len(daemon.timers)} timer(s) pending")
        watchdog = asyncio.create_task(notifier.watchdog())
        if ready:
            ready(daemon)
        await stop.wait()
        notifier.send("STOPPING=1")
        _LOG.info("stopping: pending timers stay stored for the next start")
    finally:
        if server is not None:
            server.close()
            socket_path.unlink(missing_ok=True)
        for task in (poller, pruner, watchdog):
            if task is not None:
                task.cancel()
        notifier.close()
        await daemon.stop()
        if remote is not None:
            await remote.close()
        await stove.close()
        await disk.close()
        if log is not None:
            log.close()
        store.close()


def started() -> None:
    """What the daemon built to start (configuration, relays, restored timers) lives as
    long as it does: the collector need not walk it again. And it collects less often:
    ten thousand timers coming due at once allocate a few objects each, which at
    Python's default thresholds (700, 10, 10) meant hundreds of young collections and
    several full ones in the middle of the shut-offs (bench/bench_timers.py: p99
    lateness of 10,000 timers ~550 -> ~250 ms). Cycles are still collected."""
    gc.freeze()
    gc.set_threshold(10_000, 100, 100)


def _enough_files(burners: int) -> None:
    """A burner being acted on holds its record file open (adapters/burner_guard.py):
    a cut of every burner at once needs one descriptor each, beyond systemd's 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = burners + 1024
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


async def adopt_locks(stove: Stove, burners: set[str]) -> None:
    """Locks the daemon's database held before they moved to the burners' records."""
    for name in burners & set(stove.config.burners):
        async with stove.guard.hold(name, wait=stove.config.deadline) as hold:
            hold.write(replace(hold.record, locked=True))
        _LOG.info("lock of %s moved from the database to its burner record", name)


async def prune_history(log: EventLog, disk: DiskWriter, clock: Clock, config: Config) -> None:
    """Keep the history within its age and row limits: at start, then hourly."""
    while True:
        dropped = await disk.run(lambda: log.prune(
            int(clock.wall() * 1000), keep_days=config.daemon.history_days,
            max_rows=config.daemon.history_rows))
        if dropped:
            _LOG.info("history: pruned %d old event(s)", dropped)
        await clock.sleep(3600)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            # an instant with its offset, as every other time the daemon gives
            "ts": datetime.fromtimestamp(record.created).astimezone().isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
