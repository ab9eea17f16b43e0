"""Which alarm transitions go to which channels, and the JSON body they carry (pure).

A route matches an alarm by name pattern (fnmatch: `*`, `?`, `[ab]`), by
minimum severity and by transition: `active` (activated, or moved to another
limit), `cleared`, `acknowledged`, `shelved` (shelved, unshelved, disabled,
enabled). A shelved or disabled alarm notifies no one of anything else. One
message per (transition, channel), however many routes name the channel.

The body (docs/alarms.md documents it; the webhook POSTs it as is):

    {"id": "…", "gateway": "plant1", "alarm": "boiler_overtemp",
     "tag": "boiler.temperature", "transition": "activated", "on": "active",
     "state": "active_unacked", "severity": 700, "message": "…", "value": 112.0,
     "limit": "high_high", "time": "2026-11-24T14:02:11.318022Z", "user": null,
     "comment": null, "shelving": "unshelved", "enabled": true}
"""

from __future__ import annotations

import fnmatch
import json
import math
import uuid
from datetime import UTC, datetime

from gateway.alarms.model import AlarmSnapshot, Transition
from gateway.config.notifications import NotificationsConfig, NotifyOn
from gateway.storage.rows import OutboxMessage

__all__ = ["ON", "Router", "body", "iso_time"]

#: Transition → the `on:` value that selects it (QUALITY and RESTORED send nothing).
ON: dict[Transition, NotifyOn] = {
    Transition.ACTIVATED: NotifyOn.ACTIVE,
    Transition.LIMIT_CHANGED: NotifyOn.ACTIVE,
    Transition.CLEARED: NotifyOn.CLEARED,
    Transition.ACKNOWLEDGED: NotifyOn.ACKNOWLEDGED,
    Transition.SHELVED: NotifyOn.SHELVED,
    Transition.UNSHELVED: NotifyOn.SHELVED,
    Transition.DISABLED: NotifyOn.SHELVED,
    Transition.ENABLED: NotifyOn.SHELVED,
}


def iso_time(seconds: float) -> str:
    """POSIX seconds as ISO 8601 UTC with a Z."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def body(snapshot: AlarmSnapshot, transition: Transition, *, message_id: str, gateway: str) -> str:
    """The JSON body of one notification."""
    value = snapshot.value
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        value = None
    return json.dumps(
        {
            "id": message_id,
            "gateway": gateway,
            "alarm": snapshot.name,
            "tag": snapshot.tag,
            "transition": transition.value,
            "on": ON[transition].value,
            "state": snapshot.state.value,
            "severity": snapshot.severity,
            "message": snapshot.message,
            "value": value,
            "limit": snapshot.limit,
            "time": iso_time(snapshot.time),
            "user": snapshot.user,
            "comment": snapshot.comment,
            "shelving": snapshot.shelving.value,
            "enabled": snapshot.enabled,
        },
        separators=(",", ":"),
        allow_nan=False,
    )


class Router:
    """The routes of a config, applied to each journaled transition."""

    def __init__(self, config: NotificationsConfig, *, gateway: str) -> None:
        self.routes = config.routes
        self.gateway = gateway

    def messages(
        self, snapshot: AlarmSnapshot, transition: Transition
    ) -> tuple[OutboxMessage, ...]:
        """The outbox messages of one transition (none for most)."""
        on = ON.get(transition)
        if on is None:
            return ()
        if snapshot.silenced and on is not NotifyOn.SHELVED:
            return ()  # shelved or out of service: notifies no one
        channels: dict[str, None] = {}
        for route in self.routes:
            if on not in route.on or snapshot.severity < route.min_severity:
                continue
            if any(fnmatch.fnmatchcase(snapshot.name, pattern) for pattern in route.alarms):
                channels.update(dict.fromkeys(route.to))
        messages = []
        for channel in channels:
            message_id = uuid.uuid4().hex
            messages.append(
                OutboxMessage(
                    message_id=message_id,
                    channel=channel,
                    alarm=snapshot.name,
                    transition=transition.value,
                    time=snapshot.time,
                    payload=body(snapshot, transition, message_id=message_id, gateway=self.gateway),
                )
            )
        return tuple(messages)
