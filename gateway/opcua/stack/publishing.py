"""Publish requests of one session, waiting for its subscriptions' notifications.

asyncua kept Publish requests per connection, so a subscription left behind
by a closed session still took the requests of the next session on that
connection, and answers went to closed sockets. Here they belong to the
session: a subscription asks its session for a request (`take`), the
answer goes back on the connection the request came from, and a session
that loses its connection drops its requests (`clear`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua

__all__ = ["PendingPublish", "PublishQueue"]


@dataclass(eq=False, slots=True)
class PendingPublish:
    """A Publish request waiting for something to answer it with."""

    request_handle: int
    request_id: int
    timeout_hint_ms: int
    received: float
    results: list[ua.StatusCode]
    #: The connection that sent it (a stack.connection.Connection).
    connection: Any

    def has_timed_out(self, now: float) -> bool:
        hint = self.timeout_hint_ms
        return hint != 0 and hint / 1000.0 < now - self.received


@dataclass(slots=True)
class PublishQueue:
    """Publish requests first in, first out, and the subscriptions waiting for one."""

    requests: deque[PendingPublish] = field(default_factory=deque)
    waiting: dict[int, None] = field(default_factory=dict)

    def clear(self) -> None:
        self.requests.clear()
        self.waiting.clear()

    def take(
        self, subscription_id: int, now: float, timed_out: Callable[[PendingPublish], None]
    ) -> PendingPublish | None:
        """The oldest live request; None (and `subscription_id` waits) when there is none."""
        while self.requests:
            request = self.requests.popleft()
            if not request.has_timed_out(now):
                return request
            timed_out(request)
        self.waiting[subscription_id] = None
        return None

    def next_waiting(self) -> int | None:
        """A subscription that has something to publish, oldest first."""
        if not self.waiting:
            return None
        subscription_id = next(iter(self.waiting))
        del self.waiting[subscription_id]
        return subscription_id

    def evict(
        self, now: float, timed_out: Callable[[PendingPublish], None]
    ) -> PendingPublish | None:
        """Make room for one request: a timed-out one is answered, else the oldest is returned
        (the caller answers it with Bad_TooManyPublishRequests)."""
        for request in self.requests:
            if request.has_timed_out(now):
                self.requests.remove(request)
                timed_out(request)
                return None
        return self.requests.popleft() if self.requests else None
