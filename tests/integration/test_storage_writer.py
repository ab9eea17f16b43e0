"""The storage writer against real databases: flush, outages, drops, replays, retention."""

from __future__ import annotations

import logging
import time

import pytest
from gatewaykit import wait_for as wait_until
from storagekit import (
    count_readings,
    database_url,
    gateway_config,
    outage,
    reading_times,
    unreachable_device,
)

from gateway.bus import Bus
from gateway.errors import StorageError
from gateway.model import Status, TagValue
from gateway.storage import AlarmEvent, Historian
from gateway.storage.database import Database
from gateway.storage.rows import to_us
from gateway.storage.tagsync import tag_infos

__all__ = ["database_url"]

GOOD = Status.GOOD
#: Writer settings that react within tens of milliseconds.
FAST = {"flush_interval": "50ms", "retry_min": "50ms", "retry_max": "200ms"}


def _values(key: str, count: int, start: float, step: float = 0.001) -> list[TagValue]:
    return [TagValue(key, float(i), GOOD, start + i * step, start + i * step) for i in range(count)]


def _publish(bus: Bus, values: list[TagValue], per_batch: int = 100) -> None:
    for index in range(0, len(values), per_batch):
        bus.publish(values[index : index + per_batch])


async def test_a_clean_stop_flushes_every_queued_reading(database_url: str) -> None:
    config = gateway_config(
        database_url,
        devices=[unreachable_device("a", "b")],
        flush_interval="1h",
        batch_size=1_000_000,
    )
    bus = Bus()
    async with Historian(config, bus) as historian:
        now = time.time()
        _publish(bus, _values("d.a", 3000, now) + _values("d.b", 2000, now))
        assert historian.counters.rows_written == 0  # neither batch size nor interval reached
    counters = historian.counters
    assert (counters.rows_received, counters.rows_written, counters.rows_dropped) == (5000, 5000, 0)
    assert count_readings(database_url) == 5000


async def test_batches_are_cut_by_size_and_by_time(database_url: str) -> None:
    config = gateway_config(
        database_url, devices=[unreachable_device("a")], batch_size=250, flush_interval="100ms"
    )
    bus = Bus()
    async with Historian(config, bus) as historian:
        _publish(bus, _values("d.a", 1000, time.time()), per_batch=1000)
        await wait_until(lambda: historian.counters.rows_written == 1000, message="1000 rows")
        assert historian.counters.batches == 4  # by size
        bus.publish(_values("d.a", 10, time.time() + 10))
        await wait_until(lambda: historian.counters.rows_written == 1010, message="10 more rows")
        assert historian.counters.batches == 5  # by time: 10 rows never fill a batch


@pytest.mark.parametrize("down_at_start", [False, True], ids=["down-later", "down-at-start"])
async def test_database_down_then_back_loses_nothing_within_the_bound(
    database_url: str, down_at_start: bool
) -> None:
    async with outage(database_url) as db:
        config = gateway_config(db.url, devices=[unreachable_device("a")], batch_size=100, **FAST)
        bus = Bus()
        start = time.time()
        if down_at_start:
            await db.down()
        async with Historian(config, bus) as historian:
            written_before = 0
            if not down_at_start:
                _publish(bus, _values("d.a", 100, start))
                await wait_until(lambda: historian.counters.rows_written == 100, message="rows")
                written_before = 100
                await db.down()
            _publish(bus, _values("d.a", 1000, start + 1))
            await wait_until(
                lambda: historian.counters.retries >= 2, timeout=10, message="failed attempts"
            )
            assert historian.counters.rows_written == written_before
            assert historian.counters.last_error is not None
            await db.up()
            await wait_until(
                lambda: historian.counters.rows_written == written_before + 1000,
                timeout=10,
                message="every buffered row written",
            )
        counters = historian.counters
        assert counters.rows_dropped == 0
        assert counters.last_error is None
    assert count_readings(database_url) == written_before + 1000


async def test_beyond_the_buffer_bound_the_oldest_rows_are_dropped_and_counted(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with outage(database_url) as db:
        config = gateway_config(
            db.url, devices=[unreachable_device("a")], batch_size=50, buffer_limit=200, **FAST
        )
        bus = Bus()
        start = time.time()
        values = _values("d.a", 500, start)
        with caplog.at_level(logging.WARNING, "gateway.storage"):
            async with Historian(config, bus) as historian:
                await db.down()
                _publish(bus, values, per_batch=50)
                await wait_until(
                    lambda: historian.counters.rows_dropped == 300,
                    timeout=10,
                    message="300 rows dropped",
                )
                await db.up()
                await wait_until(
                    lambda: historian.counters.rows_written == 200,
                    timeout=10,
                    message="the 200 kept rows",
                )
    assert historian.counters.rows_dropped == 300
    assert "dropped the" in caplog.text
    assert reading_times(database_url) == [to_us(v.server_time) for v in values[300:]]


async def test_a_stop_with_the_database_down_gives_up_after_the_timeout_counted(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with outage(database_url) as db:
        config = gateway_config(
            db.url, devices=[unreachable_device("a")], shutdown_timeout="300ms", **FAST
        )
        bus = Bus()
        with caplog.at_level(logging.WARNING, "gateway.storage"):
            async with Historian(config, bus) as historian:
                await db.down()
                _publish(bus, _values("d.a", 100, time.time()))
                await wait_until(lambda: historian.counters.retries >= 1, message="a failure")
                stopping = time.monotonic()
            elapsed = time.monotonic() - stopping
    assert elapsed < 5.0
    assert historian.counters.rows_dropped == 100
    assert historian.counters.rows_written == 0
    assert "100 buffered row(s) dropped: the database is still unavailable" in caplog.text


async def test_a_replayed_batch_stores_nothing_twice(database_url: str) -> None:
    config = gateway_config(database_url, devices=[unreachable_device("a", "b")], **FAST)
    bus = Bus()
    batch = _values("d.a", 300, time.time()) + _values("d.b", 200, time.time())
    async with Historian(config, bus) as historian:
        _publish(bus, batch)
        await wait_until(lambda: historian.counters.rows_written == 500, message="first copy")
        _publish(bus, batch)  # the same readings again, e.g. a retried commit
        await wait_until(lambda: historian.counters.rows_duplicate == 500, message="replay")
    assert historian.counters.rows_written == 500
    assert count_readings(database_url) == 500

    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    try:
        database.prepare()
        rows = [("d.a", to_us(v.server_time), v.value, None, 0) for v in batch[:300]]
        assert database.write(rows) == 0  # type: ignore[arg-type]
        fresh = [("d.a", to_us(time.time() + 100), 1.0, None, 0)]
        assert database.write(fresh) == 1
        assert database.write(fresh + fresh) == 0  # duplicates within one batch too
    finally:
        database.dispose()
    assert count_readings(database_url) == 501


async def test_retention_deletes_old_rows_and_events_in_bounded_chunks(database_url: str) -> None:
    config = gateway_config(
        database_url,
        devices=[unreachable_device("a", "b", "c")],
        retention="1h",
        retention_chunk=7,
        **FAST,
    )
    bus = Bus()
    now = time.time()
    old = now - 7200
    async with Historian(config, bus) as historian:
        for key in ("d.a", "d.b", "d.c"):
            _publish(bus, _values(key, 20, old) + _values(key, 5, now - 60))
        for offset in (7300.0, 7200.0, 7100.0, 10.0):
            historian.record_alarm(AlarmEvent("hot", now - offset, "activated", 700, "Hot"))
        await wait_until(lambda: historian.counters.rows_written == 75, message="rows")
        await wait_until(lambda: historian.counters.alarm_events_written == 4, message="events")
        # The retention timer's first run (at start) may take some or all of them first.
        assert await historian.apply_retention(now) <= 63
        await wait_until(lambda: historian.rows_expired == 63, message="63 rows expired")
        assert await historian.apply_retention(now) == 0  # nothing left to expire
        journal = await historian.alarm_journal()
        assert [event.time for event in journal.events] == [pytest.approx(now - 10.0)]
    times = reading_times(database_url)
    assert len(times) == 15
    assert min(times) >= to_us(now - 3600)


async def test_one_retention_transaction_deletes_at_most_one_chunk(database_url: str) -> None:
    from gateway.storage.retention import delete_expired_readings

    config = gateway_config(database_url, devices=[unreachable_device("a", "b")], **FAST)
    bus = Bus()
    old = time.time() - 7200
    async with Historian(config, bus) as historian:
        _publish(bus, _values("d.a", 10, old) + _values("d.b", 10, old))
        await wait_until(lambda: historian.counters.rows_written == 20, message="rows")
        engine = historian.database.engine
        cutoff = to_us(old + 3600)
        deleted, resume = delete_expired_readings(engine, cutoff, 7, gateway=config.gateway.name)
        assert (deleted, count_readings(database_url)) == (7, 13)
        steps = [deleted]
        while resume is not None:
            deleted, resume = delete_expired_readings(
                engine, cutoff, 7, resume, gateway=config.gateway.name
            )
            steps.append(deleted)
    assert steps == [7, 7, 6]
    assert count_readings(database_url) == 0


async def test_retention_runs_on_its_timer(database_url: str) -> None:
    config = gateway_config(
        database_url,
        devices=[unreachable_device("a")],
        retention="1h",
        retention_interval="100ms",
        **FAST,
    )
    bus = Bus()
    async with Historian(config, bus) as historian:
        _publish(bus, _values("d.a", 50, time.time() - 7200) + _values("d.a", 5, time.time()))
        await wait_until(lambda: historian.counters.rows_written == 55, message="rows")
        await wait_until(lambda: historian.rows_expired == 50, message="expired rows deleted")
    assert count_readings(database_url) == 5


def test_a_batch_streamed_row_by_row_is_still_committed_whole_or_not_at_all(
    database_url: str,
) -> None:
    """Database.write binds rows one at a time (no list of converted tuples); one commit."""
    config = gateway_config(database_url, devices=[unreachable_device("a", "b")])
    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    start = to_us(time.time())
    # Out of key order, two tags interleaved: written sorted, all counted.
    rows = [
        (key, start + i, float(i), None, 0) for i in range(2000, 0, -1) for key in ("d.b", "d.a")
    ]
    try:
        database.prepare()
        assert database.write(rows) == 4000
        assert database.write(rows) == 0
        # A row that cannot be bound, after 1,000 good new ones: the whole batch rolls back.
        # (SQLite's driver refuses it as a database error; psycopg's COPY as a TypeError.)
        fresh = [("d.a", start + 10_000 + i, 1.0, None, 0) for i in range(1000)]
        bad = ("d.b", start + 20_000, object(), None, 0)
        with pytest.raises((StorageError, TypeError)):
            database.write([*fresh, bad])  # type: ignore[list-item]
        assert count_readings(database_url) == 4000
        assert database.write(fresh) == 1000
    finally:
        database.dispose()
    assert count_readings(database_url) == 5000
