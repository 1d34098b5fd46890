"""Home Assistant's own MQTT connection as the library's ``MqttLink`` (never a private client).

The relay logic -- commands QoS 1 and never retained, confirmation only by a
state report the device published after the command, Zigbee2MQTT's echo
ignored, offline at once from the LWT -- is the library's
:class:`gasstove.adapters.mqtt_relay.MqttRelay`, the very class ``stove off``
uses. This module only carries its messages over ``mqtt.async_subscribe`` /
``mqtt.async_publish``.

**When have a subscription's retained messages arrived?** Home Assistant does
not say: its SUBSCRIBEs are debounced (0.1 s; 1 s while it starts) and their
SUBACK stays inside its client. Yet a relay must have seen the retained LWT
("offline") and, for firmware without a state request (ESPHome), its retained
state before it acts. So :meth:`HassMqttLink.ready` uses a barrier, like the
library's paho client does: after the relay's topics it subscribes to a fresh
topic of its own and publishes to it until a message comes back. Home
Assistant sends queued subscriptions in the order they were made (in one
SUBSCRIBE or in later ones), so when the barrier topic is live the relay's
topics are too, and the broker sent their retained messages before our
barrier message; MQTT keeps a connection's order, and Home Assistant
dispatches ``@callback`` subscribers in that order on the event loop. Home
Assistant re-subscribes by itself after a reconnection (and replays retained
messages then, flagged as retained), so the barrier is needed once per relay.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable
from typing import TypeVar

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from gasstove import Receiver, RelayUnreachable

#: A barrier message that has not come back by then is published again (the
#: broker drops those sent before Home Assistant's debounced SUBSCRIBE went out).
BARRIER_RETRY_S = 0.25

_T = TypeVar("_T")


class HassMqttLink:
    """The MQTT connection of Home Assistant, shared by the MQTT relays of one stove."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._users = 0
        self._unsubscribe: dict[Receiver, list[CALLBACK_TYPE]] = {}
        self._settled: set[Receiver] = set()  #: receivers whose retained messages arrived

    @property
    def connected(self) -> bool:
        try:
            return mqtt.is_connected(self.hass)
        except KeyError:  # the MQTT integration was unloaded
            return False

    def describe(self) -> str:
        return "Home Assistant's MQTT connection"

    def attach(self) -> None:
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        for unsubscribes in self._unsubscribe.values():
            for unsubscribe in unsubscribes:
                unsubscribe()
        self._unsubscribe.clear()
        self._settled.clear()

    async def ready(self, topics: tuple[str, ...], receiver: Receiver, deadline: float) -> None:
        await self._connected_by(deadline)
        if receiver not in self._unsubscribe:
            @callback
            def deliver(msg: mqtt.ReceiveMessage) -> None:
                payload = msg.payload if isinstance(msg.payload, bytes) else msg.payload.encode()
                receiver.receive(msg.topic, payload, bool(msg.retain))

            unsubscribes = self._unsubscribe[receiver] = []
            for topic in topics:
                unsubscribes.append(await self._call(
                    mqtt.async_subscribe(self.hass, topic, deliver, qos=1, encoding=None),
                    deadline, f"subscribe to {topic}"))
        if receiver not in self._settled:
            await self._barrier(deadline)
            self._settled.add(receiver)

    async def publish(self, topic: str, payload: str, deadline: float, *,
                      retain: bool = False) -> None:
        await self._call(mqtt.async_publish(self.hass, topic, payload, qos=1, retain=retain),
                         deadline, f"publish to {topic}")

    async def _connected_by(self, deadline: float) -> None:
        """Home Assistant may still be connecting (at start-up) or reconnecting: wait for it."""
        if self.connected:
            return
        up = asyncio.Event()

        @callback
        def status(connected: bool) -> None:
            if connected:
                up.set()

        stop = mqtt.async_subscribe_connection_status(self.hass, status)
        try:
            if not self.connected:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await up.wait()
        except TimeoutError:
            raise RelayUnreachable(f"{self.describe()} is not connected to the broker") from None
        finally:
            stop()

    async def _barrier(self, deadline: float) -> None:
        """Return once a message published now on a fresh topic of ours comes back (see above)."""
        topic = f"gasstove/barrier/{secrets.token_hex(8)}"
        back = asyncio.Event()

        @callback
        def returned(_msg: mqtt.ReceiveMessage) -> None:
            back.set()

        unsubscribe = await self._call(mqtt.async_subscribe(self.hass, topic, returned, qos=1),
                                       deadline, "subscribe to a barrier topic")
        try:
            while not back.is_set():
                await self.publish(topic, "barrier", deadline)
                try:
                    async with asyncio.timeout(min(BARRIER_RETRY_S, deadline - time.monotonic())):
                        await back.wait()
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise RelayUnreachable(
                            f"{self.describe()} did not deliver our own test message within "
                            "the deadline (is Home Assistant connected to the broker?)") from None
        finally:
            unsubscribe()

    async def _call(self, call: Awaitable[_T], deadline: float, what: str) -> _T:
        """Home Assistant's MQTT call, as a RelayError by ``deadline`` (it waits up to 10 s
        for an acknowledgement, and only logs when none comes)."""
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await call
        except TimeoutError:
            raise RelayUnreachable(f"{self.describe()} could not {what} within the deadline") from None
        except HomeAssistantError as err:
            raise RelayUnreachable(f"{self.describe()} could not {what}: {err}") from None

