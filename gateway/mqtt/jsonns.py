"""The plain-JSON namespace: one topic per tag, `{"value", "status", "timestamp"}` (pure).

Published on change and retained (by default), so a subscriber that arrives
late gets every tag's last value at once. A Bad reading has `"value": null`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from gateway.config import JsonConfig
from gateway.model import TagValue
from gateway.present.values import format_status

__all__ = ["JsonNamespace"]


class JsonNamespace:
    """Topics and payloads of one gateway's JSON namespace."""

    def __init__(self, settings: JsonConfig, gateway: str) -> None:
        self.settings = settings
        self._gateway = gateway
        self._topics: dict[str, str] = {}

    def topic(self, key: str) -> str:
        """The topic of tag `device.tag` (computed once per tag)."""
        topic = self._topics.get(key)
        if topic is None:
            device, _, tag = key.partition(".")
            topic = self.settings.topic.format(gateway=self._gateway, device=device, tag=tag)
            self._topics[key] = topic
        return topic

    @staticmethod
    def payload(reading: TagValue) -> bytes:
        value = reading.value
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # JSON has no NaN or infinity
        seconds = reading.source_time if reading.source_time is not None else reading.server_time
        stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
        document = {
            "value": value,
            "status": format_status(reading.status),
            "timestamp": stamp.replace("+00:00", "Z"),
        }
        return json.dumps(document, separators=(",", ":")).encode()
