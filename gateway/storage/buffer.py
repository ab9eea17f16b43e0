"""The writer's bounded buffer of rows: what the database has not taken yet.

Bounded in rows, so an outage costs at most `limit` rows of memory. When it
is full the oldest rows go first: after an outage the recent past is what
operators look at, and the oldest rows are the ones most likely lost anyway.
Every dropped row is counted and logged (rate-limited), never silent.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence

from gateway.storage.rows import Row

__all__ = ["RowBuffer"]

log = logging.getLogger(__name__)

#: Seconds between two log lines about dropped rows.
_DROP_LOG_INTERVAL = 10.0


class RowBuffer:
    """Rows in arrival order, at most `limit` of them; drops oldest-first."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the buffer holds at least one row")
        self.limit = limit
        self.dropped = 0
        self._rows: deque[Row] = deque()
        self._last_log = -_DROP_LOG_INTERVAL
        self._unlogged = 0

    def __len__(self) -> int:
        return len(self._rows)

    def extend(self, rows: Iterable[Row]) -> None:
        """Append new rows, dropping the oldest beyond the limit."""
        self._rows.extend(rows)
        self._trim()

    def take(self, count: int) -> list[Row]:
        """Remove and return up to `count` of the oldest rows."""
        rows = self._rows
        if count >= len(rows):
            batch = list(rows)
            rows.clear()
            return batch
        return [rows.popleft() for _ in range(count)]

    def put_back(self, batch: Sequence[Row]) -> None:
        """Return a batch that could not be written to the front (it is the oldest)."""
        self._rows.extendleft(reversed(batch))
        self._trim()

    def drop_all(self, reason: str) -> int:
        """Give up on every buffered row (a stop with the database still down)."""
        count = len(self._rows)
        self._rows.clear()
        if count:
            self.dropped += count
            log.error("storage: %d buffered row(s) dropped: %s", count, reason)
        return count

    def _trim(self) -> None:
        excess = len(self._rows) - self.limit
        if excess <= 0:
            return
        for _ in range(excess):
            self._rows.popleft()
        self.dropped += excess
        self._unlogged += excess
        now = time.monotonic()
        if now - self._last_log >= _DROP_LOG_INTERVAL:
            log.warning(
                "storage: buffer full (%d rows): dropped the %d oldest row(s) "
                "since the last report, %d in total",
                self.limit,
                self._unlogged,
                self.dropped,
            )
            self._last_log, self._unlogged = now, 0
