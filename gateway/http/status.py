"""What the status page shows, as JSON-ready data: devices, a page of tags, the alarms not normal,
the MQTT publisher (with `mqtt:`).

Read from the parts at request time: device health from the pollers, tag
values from the pollers' own state (only the page asked for is read), alarm
snapshots from the engine. Values are made JSON-safe here (NaN and
infinities as text, bytes never occur).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from gateway.alarms.model import AlarmSnapshot, AlarmState
from gateway.http.mqttview import mqtt_status
from gateway.http.paging import Page, TagIndex, page_of
from gateway.http.parts import Parts
from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.model import TagValue, Value
from gateway.opcua.users import Identity
from gateway.present.values import format_status

__all__ = [
    "DEVICE_PAGE_SIZE",
    "MAX_ALARMS",
    "StatusQuery",
    "StatusView",
    "json_value",
]

#: Devices per page of the device table.
DEVICE_PAGE_SIZE = 50
#: Alarms not normal listed at most (the count says how many there are).
MAX_ALARMS = 200


def json_value(value: Value | None) -> Value | None:
    """`value` as JSON can carry it: non-finite floats as their text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """What one refresh of the page asks for."""

    tag_filter: str = ""
    tag_page: int = 1
    tag_page_size: int = 50
    device_page: int = 1


class StatusView:
    """Builds the page's data from the parts (one per HTTP server)."""

    def __init__(self, parts: Parts) -> None:
        self._parts = parts
        self._tags = parts.acquisition.tags
        self._index = TagIndex(self._tags)

    @property
    def index(self) -> TagIndex:
        return self._index

    def status(
        self, query: StatusQuery, identity: Identity | None, ready: bool
    ) -> dict[str, object]:
        parts = self._parts
        return {
            "gateway": parts.config.gateway.name,
            "time": time.time(),
            "ready": ready,
            "user": _user(identity),
            "devices": self.devices(query.device_page),
            "tags": self.tags(query.tag_filter, query.tag_page, query.tag_page_size),
            "alarms": self.alarms(),
            "mqtt": None if parts.mqtt is None else mqtt_status(parts.mqtt),
        }

    def devices(self, page: int) -> dict[str, object]:
        healths = self._parts.acquisition.healths
        counts = dict.fromkeys((state.value for state in DeviceState), 0)
        for health in healths:
            counts[health.state.value] += 1
        shown = page_of(healths, page, DEVICE_PAGE_SIZE)
        return {**_page_fields(shown), "states": counts, "rows": [_device(h) for h in shown.rows]}

    def tags(self, text: str, page: int, size: int) -> dict[str, object]:
        keys = self._index.matching(text)
        shown = page_of(keys, page, size)
        values = self._parts.acquisition.current(shown.rows)
        return {
            **_page_fields(shown),
            "filter": text,
            "all": len(self._index),
            "rows": [self._tag(value) for value in values],
        }

    def alarms(self) -> dict[str, object]:
        snapshots = self._parts.alarms.snapshots()
        not_normal = [s for s in snapshots if s.state is not AlarmState.NORMAL or s.silenced]
        not_normal.sort(key=lambda s: (s.acked, -s.severity, -s.time))
        return {
            "configured": len(snapshots),
            "total": len(not_normal),
            "rows": [_alarm(snapshot) for snapshot in not_normal[:MAX_ALARMS]],
        }

    def _tag(self, value: TagValue) -> dict[str, object]:
        status = value.status
        return {
            "key": value.tag,
            "value": json_value(value.value),
            "unit": self._tags[value.tag].unit or "",
            "status": format_status(status),
            "quality": "good" if status.is_good else "uncertain" if status.is_uncertain else "bad",
            "time": value.source_time,
        }


def _page_fields(page: Page[Any]) -> dict[str, int]:
    return {"total": page.total, "page": page.page, "pages": page.pages, "size": page.size}


def _user(identity: Identity | None) -> dict[str, object] | None:
    if identity is None:
        return None
    return {"name": identity.name, "role": identity.role.value, "can_write": identity.can_write}


def _device(health: DeviceHealth) -> dict[str, object]:
    return {
        "name": health.device,
        "state": health.state.value,
        "since": health.state_since,
        "requests": health.requests,
        "errors": health.errors,
        "timeouts": health.timeouts,
        "missed_scans": health.missed_scans,
        "response_ms": round(health.response_time_ms, 2),
        "last_response": health.last_poll_time,
        "last_error": health.last_error,
    }


def _alarm(snapshot: AlarmSnapshot) -> dict[str, object]:
    return {
        "name": snapshot.name,
        "tag": snapshot.tag,
        "state": snapshot.state.value,
        "shelving": snapshot.shelving.value,
        "shelved_until": snapshot.shelved_until,
        "enabled": snapshot.enabled,
        "active": snapshot.active,
        "acked": snapshot.acked,
        "severity": snapshot.severity,
        "message": snapshot.message,
        "limit": snapshot.limit,
        "value": json_value(snapshot.value),
        "time": snapshot.time,
    }
