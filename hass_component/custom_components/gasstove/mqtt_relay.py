"""MQTT relays through Home Assistant's own ``mqtt`` integration (never a private client).

The library's ``gasstove.adapters.mqtt`` speaks to a broker with paho 2; Home
Assistant already holds the broker connection (and pins paho 1.6 on 2024.x),
so here the same pure dialect modules (``gasstove.domain.dialects``: topics,
payloads, state parsing) ride on ``mqtt.async_subscribe`` /
``mqtt.async_publish``. The confirmation rules are the library's (DESIGN §2/§4):

* commands are QoS 1 and never retained;
* a switch is confirmed only by a state report the *device* published after
  the command, never by a retained copy and, for Zigbee2MQTT, never by its
  optimistic echo of our ``/set`` (we ask with ``/get``);
* a relay whose availability topic says offline fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from gasstove.domain.dialects import CannotHold, Dialect, ParseError, Report
from gasstove.domain.errors import RelayOffline, RelayRefused, RelayUnreachable, Unconfirmed
from gasstove.domain.mqtt_config import MqttRelayConfig

_LOGGER = logging.getLogger(__name__)

#: Without a state report this long after a command or a poll, ask again.
REPOLL_S = 0.5
#: How long a Zigbee2MQTT-style bridge gets to echo our /set before we ask with /get.
ECHO_WINDOW_S = 0.3


class HassMqttRelay:
    """A :class:`gasstove.domain.relay.Relay` over Home Assistant's MQTT connection."""

    def __init__(self, hass: HomeAssistant, config: MqttRelayConfig) -> None:
        self.hass = hass
        self.config = config
        self.dialect: Dialect = config.dialect_impl()
        self._unsubscribe: list[Callable[[], None]] = []
        self._energised: bool | None = None
        self._online: bool | None = None
        self._refused: str | None = None
        self._reports = 0  #: state reports received
        self._fresh = 0  #: number of the last live (not retained) state report
        self._command = 0  #: reports received before our last command
        self._changed = asyncio.Event()

    def describe(self) -> str:
        return self.config.describe()

    @property
    def online(self) -> bool | None:
        return self._online

    async def async_start(self) -> None:
        """Subscribe to the device's state and availability topics."""
        for topic in self.dialect.subscriptions():
            try:
                self._unsubscribe.append(
                    await mqtt.async_subscribe(self.hass, topic, self._receive, qos=1, encoding=None)
                )
            except HomeAssistantError as err:
                raise RelayUnreachable(f"MQTT is not available: {err}") from None

    # -- Relay protocol -----------------------------------------------------------
    async def identify(self, *, deadline: float) -> str:
        online = {True: "online", False: "OFFLINE", None: "availability unknown"}[self._online]
        return f"{self.dialect.name} relay via Home Assistant MQTT, {online}"

    async def read(self, *, deadline: float) -> bool:
        self._check_online()
        if not self.dialect.poll() and self._energised is not None:
            return self._energised  # its last own report (a retained state serves here)
        after = self._reports
        await self._poll()
        while self._reports == after:
            self._check_online()
            if not await self._wait(min(deadline, time.monotonic() + REPOLL_S)):
                if time.monotonic() >= deadline:
                    raise Unconfirmed(f"no state report from {self.describe()} within the deadline")
                await self._poll()
        assert self._energised is not None
        return self._energised

    async def switch(
        self, energised: bool, *, deadline: float, pulse_seconds: float | None = None
    ) -> None:
        self._check_online()
        try:
            messages = self.dialect.switch(energised, pulse_seconds)
        except CannotHold as err:
            raise RelayRefused(str(err)) from None
        self._refused = None
        self._command = self._reports  # only reports after this can confirm
        for message in messages:
            await self._publish(message.topic, message.payload)

    async def wait_for(self, energised: bool, *, deadline: float) -> None:
        baseline = self._command
        if self.dialect.optimistic_echo:
            # The bridge's echo of our /set is its guess: let it pass, then ask.
            while self._reports == baseline and await self._wait(
                min(deadline, time.monotonic() + ECHO_WINDOW_S)
            ):
                pass
            baseline = self._reports
            await self._poll()
        while True:
            self._check_online()
            if self._refused is not None:
                raise RelayRefused(f"{self.describe()} refused the command: {self._refused}")
            if self._fresh > baseline and self._energised == energised:
                return
            if not await self._wait(min(deadline, time.monotonic() + REPOLL_S)):
                if time.monotonic() >= deadline:
                    break
                await self._poll()
        if self._fresh > baseline:
            state = "energised" if self._energised else "released"
            raise Unconfirmed(f"{self.describe()} still reports the relay {state}")
        raise Unconfirmed(f"no state report from {self.describe()} since the command")

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    # -- internals -----------------------------------------------------------------
    async def _publish(self, topic: str, payload: str) -> None:
        try:
            await mqtt.async_publish(self.hass, topic, payload, qos=1, retain=False)
        except HomeAssistantError as err:
            raise RelayUnreachable(f"cannot publish to {topic}: {err}") from None

    async def _poll(self) -> None:
        for message in self.dialect.poll():
            await self._publish(message.topic, message.payload)

    async def _wait(self, until: float) -> bool:
        """True if a message arrived before the monotonic instant ``until``."""
        timeout = until - time.monotonic()
        if timeout <= 0:
            return False
        self._changed.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def _check_online(self) -> None:
        if self._online is False:
            raise RelayOffline(f"{self.describe()} reports itself offline (its availability "
                               "topic / LWT): is it powered and on the network?")

    @callback
    def _receive(self, msg: mqtt.ReceiveMessage) -> None:
        payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
        try:
            report: Report | None = self.dialect.parse(msg.topic, payload)
        except ParseError as err:
            # Hostile or broken publishers must not crash us; the payload is not logged.
            _LOGGER.warning("%s: ignored a message on %s (%d bytes): %s",
                            self.describe(), msg.topic, len(payload), err)
            return
        if report is None:
            return
        if report.online is not None:
            self._online = report.online
        if report.refused is not None:
            self._refused = report.refused
        if report.energised is not None:
            self._energised = report.energised
            self._reports += 1
            if not msg.retain:
                self._fresh = self._reports
        self._changed.set()
