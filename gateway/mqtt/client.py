"""The MQTT adapter: the only module that imports aiomqtt (and, through it, paho-mqtt).

`connect(...)` is an async context manager around one aiomqtt client, made
new for every connection: a Sparkplug edge node's Will (its NDEATH) carries a
new bdSeq on every connect, and a client is made with its Will. Every
aiomqtt error leaves as `BrokerError` with a one-line reason; every call has
a timeout. Incoming messages are bounded in size and in number queued.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt

from gateway.config import BrokerAddress
from gateway.errors import BrokerError

__all__ = [
    "MAX_INCOMING_BYTES",
    "MAX_INCOMING_QUEUED",
    "BrokerConnection",
    "Incoming",
    "Will",
    "connect",
    "tls_context",
]

log = logging.getLogger("gateway.mqtt")

#: Larger incoming messages (commands, STATE) are dropped and logged: a DCMD that
#: writes every tag of a big device is a few hundred kB.
MAX_INCOMING_BYTES = 1 << 20
#: Incoming messages queued before aiomqtt drops the newest (a flood of commands).
MAX_INCOMING_QUEUED = 1000
#: QoS 1 messages in flight at once: a birth of 100k metrics is hundreds of messages.
MAX_INFLIGHT = 1000


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for us if the connection dies."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a subscription."""

    topic: str
    payload: bytes


class BrokerConnection:
    """One live connection: publish, subscribe, and the messages that arrive."""

    def __init__(self, client: aiomqtt.Client, broker: BrokerAddress, timeout: float) -> None:
        self._client = client
        self.broker = broker
        self._timeout = timeout

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish; with QoS 1 or 2 this returns once the broker acknowledged it."""
        try:
            await self._client.publish(topic, payload, qos, retain, timeout=self._timeout)
        except aiomqtt.MqttError as error:
            raise BrokerError(f"publishing to {topic} on {self.broker}: {error}") from None

    async def subscribe(self, topics: Sequence[str], *, qos: int = 1) -> None:
        """Subscribe to each topic filter and wait for the broker's SUBACK."""
        try:
            for topic in topics:
                await self._client.subscribe(topic, qos, timeout=self._timeout)
        except aiomqtt.MqttError as error:
            raise BrokerError(f"subscribing on {self.broker}: {error}") from None

    async def messages(self) -> AsyncIterator[Incoming]:
        """Messages of the subscriptions until the connection ends (BrokerError)."""
        try:
            async for message in self._client.messages:
                payload = message.payload
                if not isinstance(payload, bytes | bytearray):
                    payload = str(payload).encode() if payload is not None else b""
                if len(payload) > MAX_INCOMING_BYTES:
                    log.warning(
                        "MQTT: dropped a message of %d bytes on %s (limit %d)",
                        len(payload),
                        message.topic,
                        MAX_INCOMING_BYTES,
                    )
                    continue
                yield Incoming(str(message.topic), bytes(payload))
        except aiomqtt.MqttError as error:
            raise BrokerError(f"connection to {self.broker} lost: {error}") from None
        raise BrokerError(f"connection to {self.broker} ended")


@asynccontextmanager
async def connect(
    broker: BrokerAddress,
    *,
    client_id: str,
    keepalive: float,
    timeout: float,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[BrokerConnection]:
    """Connect to `broker` (clean session, MQTT 3.1.1) for the block; BrokerError on failure.

    Leaving disconnects cleanly (the broker then drops the Will unpublished).
    """
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=client_id,
        username=username,
        password=password,
        will=None
        if will is None
        else aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
        clean_session=True,
        keepalive=max(1, round(keepalive)),
        timeout=timeout,
        tls_context=tls if broker.tls else None,
        max_queued_incoming_messages=MAX_INCOMING_QUEUED,
        max_inflight_messages=MAX_INFLIGHT,
        # Without it Nagle's algorithm holds a small DDATA until the broker acknowledges
        # the previous one: up to a delayed ACK (40 ms) of latency (docs/performance.md).
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        logger=logging.getLogger("gateway.mqtt.paho"),
    )
    client.pending_calls_threshold = MAX_INFLIGHT  # its warning is for a handful
    try:
        async with asyncio.timeout(timeout):
            await client.__aenter__()
    except (aiomqtt.MqttError, TimeoutError, OSError) as error:
        reason = str(error) or type(error).__name__
        raise BrokerError(f"cannot connect to {broker}: {reason}") from None
    try:
        yield BrokerConnection(client, broker, timeout)
    finally:
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError as error:
            log.debug("MQTT: disconnecting from %s: %s", broker, error)


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    """A client TLS context: the broker checked against `ca` (or the system's CAs)."""
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context
