"""What a channel is to the deliverer: a Sender that delivers one Outgoing or says why not.

TransientError (a connection refused, a timeout, a 5xx answer) makes the
deliverer retry later; PermanentError (a 4xx answer, a refused login, an
address refused) marks the message failed with its reason. Reasons are
shown by `gateway alarms --notifications` and logged: they must never carry
a secret (a header value, a password, a URL's query).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.config.notifications import LogChannel, MqttChannel

__all__ = [
    "LogSender",
    "MqttSender",
    "MqttSink",
    "Outgoing",
    "PermanentError",
    "Sender",
    "TransientError",
]

log = logging.getLogger("gateway.notifications")


class TransientError(Exception):
    """Not delivered now; worth another try (the receiver is down or overloaded)."""


class PermanentError(Exception):
    """Refused; another try would be refused too."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message (or digest) to deliver: its stable id, its JSON body, parsed too."""

    message_id: str
    payload: str

    @property
    def fields(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed

    def summary(self) -> str:
        """One line for people: "[700] boiler_overtemp activated: …", or a digest's count."""
        fields = self.fields
        if fields.get("digest"):
            alarms = ", ".join(sorted(fields.get("alarms", {}))[:5])
            return f"digest of {fields.get('count')} notifications ({alarms}…)"
        return (
            f"[{fields.get('severity')}] {fields.get('alarm')} {fields.get('transition')}: "
            f"{fields.get('message')}"
        )


class Sender(Protocol):
    """One channel's delivery (an async context manager owns any connection pool)."""

    name: str

    async def send(self, outgoing: Outgoing) -> None:
        """Deliver, or raise TransientError or PermanentError with a reason."""
        ...

    async def close(self) -> None: ...


class LogSender:
    """Writes one line per notification to the gateway's log."""

    def __init__(self, channel: LogChannel) -> None:
        self.name = channel.name

    async def send(self, outgoing: Outgoing) -> None:
        log.info("notification %s via %s: %s", outgoing.message_id, self.name, outgoing.summary())

    async def close(self) -> None:
        return None


class MqttSink(Protocol):
    """What the mqtt channel needs of the gateway's MQTT connection (the MQTT issue's).

    To plug in at merge: an adapter over the MQTT part's live BrokerConnection
    whose `publish` raises TransientError while there is no connection or the
    broker does not acknowledge (BrokerError), PermanentError when the broker
    refuses the topic; `Deliverer(config, historian, mqtt=that_adapter)`.
    """

    async def publish(self, topic: str, payload: bytes, *, qos: int) -> None:
        """Publish, or raise TransientError (not connected) or PermanentError."""
        ...


class MqttSender:
    """Publishes the JSON body on the channel's topic through the `mqtt:` connection."""

    def __init__(self, channel: MqttChannel, publisher: MqttSink | None) -> None:
        self.name = channel.name
        self.topic = channel.topic
        self.qos = channel.qos
        self._publisher = publisher

    async def send(self, outgoing: Outgoing) -> None:
        if self._publisher is None:
            raise PermanentError("no mqtt: connection to publish on (configure the mqtt: section)")
        await self._publisher.publish(self.topic, outgoing.payload.encode(), qos=self.qos)

    async def close(self) -> None:
        return None
