"""A per-channel sliding window, and the digest of what it held back (pure).

A channel may send `count` messages per `per` seconds. While the window has
room, messages go one by one; what comes beyond waits. When the window has
room again and more than one message waits, they all go as one digest (one
message, one slot), and while more keep coming one digest per window: a
flapping alarm, or a thousand, cost a receiver one message per window, and
the outbox does not grow without bound (deliver.py sends them).
"""

from __future__ import annotations

import json
from collections import deque

from gateway.alarms.notify.routes import iso_time
from gateway.storage.rows import OutboxMessage

__all__ = ["DIGEST_DETAILS", "SlidingWindow", "digest_body"]

#: Messages a digest carries in full (the newest); the rest are counted per alarm.
DIGEST_DETAILS = 50


class SlidingWindow:
    """Send times of one channel within the last `per` seconds."""

    def __init__(self, count: int, per: float) -> None:
        self.count = count
        self.per = per
        self._sent: deque[float] = deque()

    def room(self, now: float) -> int:
        """How many messages may go now."""
        while self._sent and self._sent[0] <= now - self.per:
            self._sent.popleft()
        return self.count - len(self._sent)

    def reopens(self, now: float) -> float:
        """When the window has room again (now if it has)."""
        if self.room(now) > 0:
            return now
        return self._sent[0] + self.per

    def sent(self, now: float) -> None:
        self._sent.append(now)


def digest_body(
    digest_id: str, gateway: str, per_alarm: dict[str, int], newest: list[OutboxMessage]
) -> str:
    """One JSON body for many held messages: counts per alarm, the newest in full."""
    count = sum(per_alarm.values())
    return json.dumps(
        {
            "id": digest_id,
            "gateway": gateway,
            "digest": True,
            "count": count,
            "alarms": per_alarm,
            "last_time": iso_time(max(m.time for m in newest)) if newest else None,
            "messages": [json.loads(m.payload) for m in newest],
            "omitted": count - len(newest),
        },
        separators=(",", ":"),
    )
