"""The MQTT publisher as the HTTP side reads it: protocols of what it already keeps.

gateway.http must not import gateway.mqtt (they are one layer, independent),
so the status page and /metrics read the publisher through these shapes:
`MqttPublisher` (its `state`, an `MqttState`, and its `forwarder`'s replay
backlog) is one. Read at request and scrape time; nothing is counted for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "ALL_STATES",
    "CONNECTED_STATES",
    "MqttCounters",
    "MqttView",
    "ReplayBacklog",
    "ReplayWindow",
    "backlog_seconds",
    "mqtt_status",
]

#: Connection states with a live broker connection (gateway.mqtt.state.ConnectionState).
CONNECTED_STATES = frozenset({"online", "waiting_for_host"})
#: Every connection state, for a one-hot metric that keeps its series when the state changes.
ALL_STATES = ("connecting", "waiting_for_host", "online", "backoff", "stopped")


class MqttCounters(Protocol):
    """The publisher's live state and counters (gateway.mqtt.state.MqttState)."""

    @property
    def state(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def last_error(self) -> str: ...
    @property
    def state_since(self) -> float: ...
    @property
    def connects(self) -> int: ...
    @property
    def births(self) -> int: ...
    @property
    def messages(self) -> int: ...
    @property
    def commands_written(self) -> int: ...
    @property
    def commands_refused(self) -> int: ...
    @property
    def replay_active(self) -> bool: ...
    @property
    def replay_sent(self) -> int: ...
    @property
    def replay_skipped(self) -> int: ...
    @property
    def acked_until(self) -> float | None: ...


class ReplayWindow(Protocol):
    """One window of stored data still to replay (gateway time, seconds)."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


class ReplayBacklog(Protocol):
    """Store and forward's bookkeeping (gateway.mqtt.forward.Forwarder)."""

    @property
    def backlog(self) -> Sequence[ReplayWindow]: ...


class MqttView(Protocol):
    """The MQTT publisher of a gateway configured with `mqtt:`."""

    @property
    def state(self) -> MqttCounters: ...
    @property
    def forwarder(self) -> ReplayBacklog: ...


def backlog_seconds(view: MqttView) -> float:
    """The span of stored data still to replay, in seconds (0 when there is none)."""
    return sum(max(0.0, window.end - window.start) for window in view.forwarder.backlog)


def mqtt_status(view: MqttView) -> dict[str, object]:
    """The status page's MQTT block: JSON-ready."""
    state = view.state
    return {
        "state": str(state.state),
        "connected": str(state.state) in CONNECTED_STATES,
        "server": state.server,
        "since": state.state_since,
        "last_error": state.last_error,
        "connects": state.connects,
        "messages": state.messages,
        "replay_active": state.replay_active,
        "replay_sent": state.replay_sent,
        "backlog_windows": len(view.forwarder.backlog),
        "backlog_seconds": round(backlog_seconds(view), 3),
        "acked_until": state.acked_until,
    }
