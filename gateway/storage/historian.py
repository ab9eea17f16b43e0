"""The Historian: the storage side of a running gateway, as one async context manager.

Entering it opens the database on a single dedicated thread (every blocking
call goes there, in order, each with the `storage.timeout` deadline:
thread.py), migrates the schema and syncs the tags table, then starts the
writer loops and the retention timer in one TaskGroup. A database that is
down (or does not answer) at start is not fatal: readings are buffered and
the writer prepares the database once it answers. A schema newer than this
code is fatal (SchemaTooNew). Leaving closes the bus subscription, lets the
writer flush what is queued (within `shutdown_timeout`, whatever the
database does), then closes the connections (within `CLOSE_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

from gateway.aggregates import Aggregate, AggregateConfiguration
from gateway.bus import Bus, OverflowPolicy
from gateway.config import GatewayConfig
from gateway.lifecycle import Part, task_group
from gateway.model import TagValue
from gateway.storage import outbox, queries
from gateway.storage.aggregates import ProcessedPage, read_processed
from gateway.storage.database import Database
from gateway.storage.engine import describe_url
from gateway.storage.errors import StorageError, StorageUnavailable
from gateway.storage.modes import Recorder, tag_policies
from gateway.storage.replay import ReplayCursor, ReplayPage, replay_page
from gateway.storage.retention import delete_expired_events, delete_expired_readings
from gateway.storage.rows import AlarmEvent, OutboxMessage, PendingMessage, to_us
from gateway.storage.tagsync import tag_infos
from gateway.storage.thread import StorageThread
from gateway.storage.writer import StorageCounters, StorageWriter

__all__ = ["CLOSE_TIMEOUT", "SUBSCRIPTION_BATCHES", "Historian"]

log = logging.getLogger("gateway.storage")

#: Bus batches queued for the writer's intake, which drains them at once; only
#: a starved event loop fills it (then the oldest go, as in the row buffer).
SUBSCRIPTION_BATCHES = 10_000
#: Seconds to close the connections when stopping (a frozen one was cut already).
CLOSE_TIMEOUT = 1.0


class Historian(Part):
    """Database + writer + retention; async queries for OPC UA history."""

    def __init__(
        self, config: GatewayConfig, bus: Bus, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = config.storage
        self.gateway = config.gateway.name
        self.database = Database(config.storage, tag_infos(config), gateway=self.gateway)
        subscription = bus.subscribe(
            "storage", maxsize=SUBSCRIPTION_BATCHES, policy=OverflowPolicy.DROP_OLDEST
        )
        recorder = Recorder(tag_policies(config), clock())
        self._thread = StorageThread(self.database.cutter.cut)
        self.writer = StorageWriter(
            self.database, subscription, recorder, config.storage, self._thread, clock=clock
        )
        self._clock = clock
        self.rows_expired = 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Open the database and write until the block ends; then flush and close."""
        self._thread.start()
        try:
            await self._prepare()
            writer = self.writer
            async with task_group() as group:
                group.create_task(writer.intake(), name="storage intake")
                group.create_task(writer.sampler(), name="storage sampler")
                group.create_task(writer.flusher(), name="storage flusher")
                retention = group.create_task(self._retention_loop(), name="storage retention")
                try:
                    yield self
                finally:
                    # The writer drains what is queued (within shutdown_timeout, whatever
                    # the database does): the block's error does not cancel the flusher.
                    writer.subscription.close()
                    retention.cancel()
        finally:
            await self._close()
        counters = self.counters
        log.info(
            "storage: stopped: %d rows written in %d batches, %d dropped, %d retries",
            counters.rows_written,
            counters.batches,
            counters.rows_dropped,
            counters.retries,
        )

    async def _prepare(self) -> None:
        """Migrate and sync the tags; a database that does not answer is only a warning."""
        try:
            await self._call(self.database.prepare)
            log.info(
                "storage: %s ready, %d tag(s)",
                describe_url(self.settings.url),
                len(self.database.tag_ids),
            )
        except StorageUnavailable as error:
            log.warning("storage: %s; readings are buffered until the database answers", error)

    @property
    def thread_running(self) -> bool:
        """Whether the storage thread runs (from entering until every connection closed)."""
        return self._thread.running

    @property
    def counters(self) -> StorageCounters:
        return self.writer.counters

    @property
    def writable(self) -> bool:
        """The database is prepared and the latest commit did not fail (for /readyz)."""
        if not self.database.ready:
            return False
        counters = self.writer.counters
        failed, committed = counters.last_error_time, counters.last_commit_time
        return failed is None or (committed is not None and committed >= failed)

    def record_alarm(self, event: AlarmEvent) -> None:
        """Journal an alarm transition (written with the next batch)."""
        self.writer.record_alarm(event)

    # -- queries (on the storage thread) ----------------------------------------------------

    async def read_raw(
        self,
        key: str,
        start: float | None = None,
        end: float | None = None,
        *,
        limit: int = queries.PAGE_SIZE,
        continuation: str | None = None,
        reverse: bool = False,
    ) -> queries.RawPage:
        engine = self.database.engine
        call = functools.partial(
            queries.read_raw,
            gateway=self.gateway,
            limit=limit,
            continuation=continuation,
            reverse=reverse,
        )
        page: queries.RawPage = await self._call(call, engine, key, start, end)
        return page

    async def read_processed(
        self,
        key: str,
        aggregate: Aggregate,
        *,
        start: float,
        end: float,
        processing: float,
        config: AggregateConfiguration,
        first: int,
        limit: int,
    ) -> ProcessedPage:
        """A page of Part 13 aggregate results (OPC UA HistoryReadProcessed)."""
        call = functools.partial(
            read_processed,
            gateway=self.gateway,
            start=start,
            end=end,
            processing=processing,
            config=config,
            first=first,
            limit=limit,
        )
        page: ProcessedPage = await self._call(call, self.database.engine, key, aggregate)
        return page

    async def latest(self, keys: Iterable[str] | None = None) -> list[TagValue]:
        call = functools.partial(queries.latest, gateway=self.gateway)
        values: list[TagValue] = await self._call(call, self.database.engine, keys)
        return values

    async def alarm_journal(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        alarm: str | None = None,
        limit: int = queries.PAGE_SIZE,
        continuation: str | None = None,
    ) -> queries.AlarmPage:
        call = functools.partial(
            queries.alarm_journal,
            gateway=self.gateway,
            alarm=alarm,
            limit=limit,
            continuation=continuation,
        )
        page: queries.AlarmPage = await self._call(call, self.database.engine, start, end)
        return page

    async def alarm_states(self, alarms: Iterable[str] | None = None) -> dict[str, AlarmEvent]:
        """The latest journaled event of each alarm (what a restart restores)."""
        wanted = None if alarms is None else list(alarms)
        call = functools.partial(queries.alarm_states, gateway=self.gateway)
        states: dict[str, AlarmEvent] = await self._call(call, self.database.engine, wanted)
        return states

    async def next_bd_seq(self, edge_node: str) -> int:
        """The Sparkplug bdSeq of `edge_node`'s next connect, counted in the database
        (StorageUnavailable while it does not answer)."""
        bd_seq: int = await self._call(self.database.next_bd_seq, edge_node)
        return bd_seq

    async def replay_page(
        self,
        keys: Sequence[str],
        start: float,
        end: float,
        *,
        cursor: ReplayCursor,
        limit: int,
    ) -> ReplayPage:
        """Stored values of `keys` in (start, end], a page at a time (storage/replay.py)."""
        call = functools.partial(replay_page, gateway=self.gateway, cursor=cursor, limit=limit)
        page: ReplayPage = await self._call(call, self.database.engine, keys, start, end)
        return page

    # -- the notification outbox (gateway/alarms/notify) -------------------------------------

    async def pending_notifications(self, limit: int) -> list[PendingMessage]:
        """Pending outbox rows, oldest first."""
        rows: list[PendingMessage] = await self._call(
            functools.partial(outbox.pending_messages, gateway=self.gateway),
            self.database.engine,
            limit,
        )
        return rows

    async def notifications_sent(self, ids: list[int], now: float, note: str | None = None) -> None:
        await self._call(outbox.mark_sent, self.database.engine, ids, now, note)

    async def notifications_retry(self, ids: list[int], next_try: float, error: str) -> None:
        await self._call(outbox.mark_retry, self.database.engine, ids, next_try, error)

    async def notifications_failed(self, ids: list[int], error: str) -> None:
        await self._call(outbox.mark_failed, self.database.engine, ids, error)

    async def notification_digest(
        self, channel: str, details: int
    ) -> tuple[int, dict[str, int], list[OutboxMessage]] | None:
        found: tuple[int, dict[str, int], list[OutboxMessage]] | None = await self._call(
            functools.partial(outbox.pending_digest, gateway=self.gateway),
            self.database.engine,
            channel,
            details,
        )
        return found

    async def notifications_sent_through(
        self, channel: str, last: int, now: float, note: str
    ) -> int:
        count: int = await self._call(
            functools.partial(outbox.mark_sent_through, gateway=self.gateway),
            self.database.engine,
            channel,
            last,
            now,
            note,
        )
        return count

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each commit that wrote notification outbox rows."""
        self.writer.outbox_listeners.append(listener)

    async def notification_rows(self, limit: int) -> list[PendingMessage]:
        """The newest outbox rows of every status, newest first."""
        rows: list[PendingMessage] = await self._call(
            functools.partial(outbox.outbox_rows, gateway=self.gateway), self.database.engine, limit
        )
        return rows

    @property
    def prepared(self) -> bool:
        """The database is open and migrated (the outbox can be read)."""
        return self.database.ready

    # -- retention --------------------------------------------------------------------------

    async def apply_retention(self, now: float | None = None) -> int:
        """Delete rows older than the retention, chunk by chunk; return how many."""
        if not self.database.ready:
            return 0
        engine, chunk = self.database.engine, self.settings.retention_chunk
        readings_of = functools.partial(delete_expired_readings, gateway=self.gateway)
        events_of = functools.partial(delete_expired_events, gateway=self.gateway)
        cutoff = to_us((self._clock() if now is None else now) - self.settings.retention)
        deleted = 0
        resume: int | None = 0
        while resume is not None:
            count, resume = await self._call(readings_of, engine, cutoff, chunk, resume)
            deleted += count
            self.rows_expired += count
        while (count := await self._call(events_of, engine, cutoff, chunk)) > 0:
            deleted += count
            self.rows_expired += count
        if deleted:
            log.info("storage: retention deleted %d row(s) older than the retention", deleted)
        return deleted

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.apply_retention()
            except StorageError as error:
                log.warning("storage: retention failed, trying again later: %s", error)
            await asyncio.sleep(self.settings.retention_interval)

    # -- the storage thread -----------------------------------------------------------------

    async def _call(
        self, function: Callable[..., Any], *args: Any, timeout: float | None = None
    ) -> Any:
        """Run a blocking database call on the storage thread, within `timeout` seconds
        (default `storage.timeout`); StorageUnavailable when it does not answer in time."""
        limit = self.settings.timeout if timeout is None else timeout
        return await self._thread.call(limit, function, *args)

    async def _close(self) -> None:
        if not self._thread.running:
            return
        try:
            await self._call(self.database.dispose, timeout=CLOSE_TIMEOUT)
        except StorageUnavailable as error:
            log.warning("storage: closing the database connections: %s", error)
        finally:
            self._thread.stop()
