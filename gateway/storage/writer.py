"""The storage writer: bus batches → rows → bounded buffer → batched commits.

Three loops, run by the Historian's TaskGroup:

- intake drains the bus subscription as fast as batches come (it never
  waits on the database), turns values into rows per storage mode and
  appends them to the RowBuffer;
- sampler adds the rows of sampled and every-scan tags at their slots;
- flusher commits up to `batch_size` rows per transaction on the storage
  thread, as soon as a batch is full or `flush_interval` has passed.

Delivery is at least once: a batch leaves the buffer only after its commit
returned; a failed or unknown commit is put back and retried with capped,
jittered exponential backoff, and the (tag, ts) key turns a replayed row
into a no-op. Every commit has a deadline (`storage.timeout`, kept by the
storage thread): a database that stops answering without closing the
connection fails the commit in bounded time, and the retry runs on a new
connection. When the subscription closes (shutdown) everything buffered
is flushed; if the database stays down (or silent) longer than
`shutdown_timeout`, the rest is dropped, counted and logged: each commit
then gets at most the time left until that deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.backoff import backoff_delay
from gateway.bus import Subscription
from gateway.config import StorageConfig
from gateway.storage.buffer import RowBuffer
from gateway.storage.database import Database
from gateway.storage.errors import StorageError, StorageUnavailable
from gateway.storage.modes import Recorder
from gateway.storage.rows import AlarmEvent, Row

__all__ = ["ALARM_EVENT_LIMIT", "StorageCounters", "StorageWriter"]

log = logging.getLogger("gateway.storage")


class BlockingCalls(Protocol):
    """The storage thread, as the writer uses it (gateway.storage.thread.StorageThread)."""

    async def call(
        self, timeout: float, function: Callable[..., Any], *args: Any, late: str | None = None
    ) -> Any:
        """`function(*args)` on the thread; StorageUnavailable (`late`: …) after `timeout` s."""

    def hurry(self, within: float, reason: str) -> None:
        """Calls pending now end within `within` seconds at the latest."""


#: Alarm events held while the database is down (oldest dropped beyond it).
ALARM_EVENT_LIMIT = 100_000
#: Seconds between two log lines about failing commits.
_ERROR_LOG_INTERVAL = 10.0
#: A retry waits its nominal delay less up to half of it at random (gateway.backoff).
_RETRY_JITTER = 0.5


@dataclass(slots=True)
class StorageCounters:
    """What the writer did so far (a snapshot; see StorageWriter.counters)."""

    rows_received: int = 0  # rows produced from bus values and samples
    rows_written: int = 0  # rows newly stored
    rows_duplicate: int = 0  # rows the database already held (replays)
    batches: int = 0  # committed transactions
    retries: int = 0  # failed commit attempts (each retried)
    rows_dropped: int = 0  # dropped by the buffer bound or at shutdown
    bus_dropped_values: int = 0  # dropped by the bus before reaching the writer
    alarm_events_written: int = 0
    alarm_events_dropped: int = 0
    buffered: int = 0
    last_error: str | None = None
    last_error_time: float | None = None
    last_commit_time: float | None = None


class StorageWriter:
    """Moves rows from a bus subscription into the database (see module docstring)."""

    def __init__(
        self,
        database: Database,
        subscription: Subscription,
        recorder: Recorder,
        settings: StorageConfig,
        storage: BlockingCalls,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.subscription = subscription
        self.recorder = recorder
        self.settings = settings
        self.buffer = RowBuffer(settings.buffer_limit)
        self._storage = storage
        self._stop_by: float | None = None  # loop time the flush at a stop must end by
        self._clock = clock
        self._rng = rng or random.Random()
        self._events: deque[AlarmEvent] = deque()
        self._counters = StorageCounters()
        self._ready = asyncio.Event()  # a full batch is waiting
        self._closed = asyncio.Event()  # intake is done: flush the rest and stop
        self._last_error_log = -_ERROR_LOG_INTERVAL
        #: Called after a commit that wrote outbox rows (the notification deliverer wakes).
        self.outbox_listeners: list[Callable[[], None]] = []

    @property
    def counters(self) -> StorageCounters:
        counters = self._counters
        counters.rows_dropped = self.buffer.dropped
        counters.bus_dropped_values = self.subscription.dropped_values
        counters.buffered = len(self.buffer)
        return StorageCounters(**{name: getattr(counters, name) for name in counters.__slots__})

    def record_alarm(self, event: AlarmEvent) -> None:
        """Queue an alarm transition for the journal (written with the next batch)."""
        self._events.append(event)
        if len(self._events) > ALARM_EVENT_LIMIT:
            self._events.popleft()
            self._counters.alarm_events_dropped += 1
            log.warning("storage: alarm event buffer full: dropped the oldest event")
        self._ready.set()

    # -- the three loops ------------------------------------------------------------------

    async def intake(self) -> None:
        """Bus → rows → buffer until the subscription closes and drains."""
        try:
            while batches := await self.subscription.get_many():
                rows: list[Row] = []
                for batch in batches:
                    self.recorder.accept(batch, rows)
                self._add(rows)
        finally:
            # From here on a stop is under way: every call, the one running included,
            # ends by the same deadline, so shutdown_timeout holds whatever the database does.
            timeout = self.settings.shutdown_timeout
            self._stop_by = asyncio.get_running_loop().time() + timeout
            self._storage.hurry(timeout, f"shutdown_timeout ({timeout:g} s) is over")
            self._closed.set()
            self._ready.set()

    async def sampler(self) -> None:
        """Rows of sampled and every-scan tags at their wall-clock slots."""
        while not self._closed.is_set():
            delay = self.recorder.next_due - self._clock()
            if delay > 0:
                await _wait(self._closed, min(delay, 3600.0))
                continue
            rows: list[Row] = []
            self.recorder.tick(self._clock(), rows)
            self._add(rows)

    async def flusher(self) -> None:
        """Buffer → database in batches, retrying with backoff, until closed and empty."""
        loop = asyncio.get_running_loop()
        failures = 0  # consecutive failed commits
        deadline: float | None = None
        while True:
            if self._closed.is_set():
                deadline = self._stop_by
                if not self.buffer and not self._events:
                    return
            elif len(self.buffer) < self.settings.batch_size:
                await self._wait_ready(self.settings.flush_interval)
                if not self.buffer and not self._events:
                    continue
            batch = self.buffer.take(self.settings.batch_size)
            events = list(self._events)
            self._events.clear()
            try:
                await self._commit(batch, events, deadline)
            except StorageUnavailable as error:
                self.buffer.put_back(batch)
                self._events.extendleft(reversed(events))
                self._failed(error)
                failures += 1
                wait = backoff_delay(
                    failures,
                    first=self.settings.retry_min,
                    cap=self.settings.retry_max,
                    jitter=_RETRY_JITTER,
                    draw=self._rng.random,
                )
                if deadline is not None and loop.time() + wait > deadline:
                    self._give_up(error)
                    return
                await self._backoff(wait)
            except StorageError as error:  # refused, not unavailable: a retry cannot help
                self._refused(error, len(batch), len(events))
            else:
                failures = 0

    # -- helpers ------------------------------------------------------------------------

    def _add(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        self._counters.rows_received += len(rows)
        self.buffer.extend(rows)
        if len(self.buffer) >= self.settings.batch_size:
            self._ready.set()

    async def _wait_ready(self, timeout: float) -> None:
        await _wait(self._ready, timeout)
        self._ready.clear()

    async def _backoff(self, seconds: float) -> None:
        """Sleep before a retry; a stop request cuts it short (the deadline then applies)."""
        if self._closed.is_set():
            await asyncio.sleep(seconds)
        else:
            await _wait(self._closed, seconds)

    async def _call(self, deadline: float | None, function: Callable[..., Any], *args: Any) -> Any:
        """A call on the storage thread, within `timeout`, or less when a stop's deadline
        comes sooner (and its error then says so)."""
        timeout = self.settings.timeout
        if deadline is None:
            return await self._storage.call(timeout, function, *args)
        over = f"shutdown_timeout ({self.settings.shutdown_timeout:g} s) is over"
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise StorageUnavailable(over)
        if left >= timeout:
            return await self._storage.call(timeout, function, *args)
        return await self._storage.call(left, function, *args, late=over)

    async def _commit(
        self, batch: list[Row], events: list[AlarmEvent], deadline: float | None
    ) -> None:
        """Write one batch; at a stop (`deadline` set) no call runs past the deadline."""
        database = self.database
        if not database.ready:
            await self._call(deadline, database.prepare)
            log.info("storage: database ready (%s)", database.dialect)
        inserted: int = await self._call(deadline, database.write, batch, events)
        counters = self._counters
        counters.batches += 1
        counters.rows_written += inserted
        counters.rows_duplicate += len(batch) - inserted
        counters.alarm_events_written += len(events)
        counters.last_commit_time = self._clock()
        if any(event.notifications for event in events):
            for listener in self.outbox_listeners:
                listener()
        if counters.last_error is not None and counters.retries:
            log.info("storage: writing again after %d failed attempt(s)", counters.retries)
            counters.last_error = None
        log.debug(
            "storage: batch %d committed: %d rows (%d new), last ts %d",
            counters.batches,
            len(batch),
            inserted,
            max((row[1] for row in batch), default=0),
        )

    def _failed(self, error: StorageError) -> None:
        counters = self._counters
        counters.retries += 1
        counters.last_error = str(error)
        counters.last_error_time = self._clock()
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.warning(
                "storage: %s; %d row(s) buffered, retrying (attempt %d)",
                error,
                len(self.buffer),
                counters.retries,
            )

    def _refused(self, error: StorageError, rows: int, events: int) -> None:
        """The database refused a batch (not an outage): drop it, counted, and go on."""
        self.buffer.dropped += rows
        self._counters.alarm_events_dropped += events
        self._counters.last_error = str(error)
        self._counters.last_error_time = self._clock()
        log.error(
            "storage: the database refused a batch of %d row(s) and %d alarm event(s), dropped: %s",
            rows,
            events,
            error,
        )

    def _give_up(self, error: StorageError) -> None:
        self.buffer.drop_all(f"the database is still unavailable at shutdown ({error})")
        if self._events:
            self._counters.alarm_events_dropped += len(self._events)
            log.error("storage: %d alarm event(s) dropped at shutdown", len(self._events))
            self._events.clear()


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until `event` is set or `timeout` seconds passed, whichever comes first."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
