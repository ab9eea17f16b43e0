"""A database that stops answering without saying so: a half-open PostgreSQL connection
(the frozen proxy of storagekit), an SQLite file locked by another connection.

The writer has a deadline of its own for every database call: a stuck call
fails within `storage.timeout`, is logged in one line, and is retried on a new
connection, with nothing lost within `buffer_limit`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gatewaykit import PLC_POINTS, make_plant, wait_for
from sqlalchemy.engine import Engine
from storagekit import (
    Outage,
    count_readings,
    fresh_database,
    gateway_config,
    outage,
    unreachable_device,
)

from gateway.bus import Bus
from gateway.model import Status, TagValue
from gateway.storage import Historian, StorageUnavailable
from gateway.storage.database import Database
from gateway.storage.thread import StorageThread
from simulators.runtime import run_plant

GOOD = Status.GOOD
#: Writer settings that react within tens of milliseconds, and a short deadline.
FAST = {"flush_interval": "50ms", "retry_min": "50ms", "retry_max": "200ms", "timeout": "1s"}


def _values(key: str, count: int, start: float) -> list[TagValue]:
    return [
        TagValue(key, float(i), GOOD, start + i * 0.001, start + i * 0.001) for i in range(count)
    ]


def _publish(bus: Bus, values: list[TagValue], per_batch: int = 100) -> None:
    for index in range(0, len(values), per_batch):
        bus.publish(values[index : index + per_batch])


def _storage_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("gateway.storage") and r.levelno >= level
    ]


def _freeze_idle(db: Outage) -> None:
    db.freeze()  # the open connection goes half-open while idle in the pool


def _freeze_mid_write(db: Outage) -> None:
    db.freeze_at(b"COPY readings_in")  # the batch's COPY never reaches the server


def _stored(historian: Historian) -> int:
    """Rows committed so far; a batch whose commit answered too late is written again,
    and then counts as duplicates (the database holds it once: checked at the end)."""
    counters = historian.counters
    return counters.rows_written + counters.rows_duplicate


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("freeze", "must_retry"),
    [(_freeze_idle, False), (_freeze_mid_write, True)],
    ids=["idle-connection", "mid-transaction"],
)
async def test_a_frozen_postgresql_connection_is_cut_and_replaced_nothing_lost(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    freeze: Callable[[Outage], None],
    must_retry: bool,
) -> None:
    """Idle: the pool's ping on checkout hangs, is cut, and the pool connects anew within
    the same call (on a very slow machine the call may instead be released and retried).
    Mid-transaction: the call fails, and the writer retries it on a new connection."""
    with fresh_database("postgresql", tmp_path) as url:
        async with outage(url) as db:
            config = gateway_config(
                db.url, devices=[unreachable_device("a")], batch_size=500, **FAST
            )
            bus = Bus()
            start = time.time()
            with caplog.at_level(logging.INFO, "gateway.storage"):
                async with Historian(config, bus) as historian:
                    try:
                        _publish(bus, _values("d.a", 100, start))
                        await wait_for(
                            lambda: historian.counters.rows_written == 100, message="rows"
                        )
                        connections = db.connections
                        freeze(db)
                        _publish(bus, _values("d.a", 1000, start + 1))
                        await wait_for(
                            lambda: _stored(historian) == 1100,
                            timeout=20,
                            message="every row written after the stuck call was cut",
                        )
                    finally:
                        await db.up()  # else a writer stuck for good would hang the stop
                    counters = historian.counters
                    retried = counters.retries >= 1
                    assert retried or not must_retry
                    assert counters.retries <= 1
                    assert counters.rows_dropped == 0
                    assert db.connections > connections  # a new connection took over
        assert count_readings(url) == 1100
    warnings = _storage_lines(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings  # one line for the one stuck call
    assert warnings[0].startswith("storage: the database did not answer within 1 s")
    if retried:
        assert "row(s) buffered, retrying (attempt 1)" in warnings[0]
    else:
        assert warnings[0].endswith("cut the connection; the call went on over a new one")
    assert not any(r.exc_info for r in caplog.records)


async def test_an_sqlite_file_locked_by_another_connection_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    config = gateway_config(url, devices=[unreachable_device("a")], batch_size=100, **FAST)
    bus = Bus()
    start = time.time()
    with caplog.at_level(logging.INFO, "gateway.storage"):
        async with Historian(config, bus) as historian:
            _publish(bus, _values("d.a", 100, start))
            await wait_for(lambda: historian.counters.rows_written == 100, message="rows")
            holder = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
            try:
                holder.execute("BEGIN EXCLUSIVE")
                _publish(bus, _values("d.a", 1000, start + 1))
                await wait_for(
                    lambda: historian.counters.retries >= 2, timeout=10, message="two retries"
                )
                assert historian.counters.rows_written == 100
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            await wait_for(
                lambda: historian.counters.rows_written == 1100,
                timeout=10,
                message="every row written once the lock is released",
            )
    assert historian.counters.rows_dropped == 0
    assert count_readings(url) == 1100
    warnings = _storage_lines(caplog, logging.WARNING)
    locked = [line for line in warnings if "locked by another connection" in line]
    assert len(locked) == 1, warnings  # one line, not one per retry
    assert not any(r.exc_info for r in caplog.records)


async def test_an_sqlite_statement_past_its_deadline_is_interrupted(tmp_path: Path) -> None:
    config = gateway_config(f"sqlite:///{tmp_path / 'history.db'}", timeout="5s")
    database = Database(config.storage, [], gateway=config.gateway.name)
    thread = StorageThread(database.cutter.cut)
    thread.start()
    try:
        with pytest.raises(StorageUnavailable) as failed:
            await thread.call(0.2, _count_forever, database.engine)
        assert str(failed.value) == (
            "the database did not answer within 0.2 s; the connection was cut"
        )
        assert "interrupted" in str(failed.value.__cause__)
        assert await thread.call(5.0, _select_one, database.engine) == 1  # usable again
    finally:
        await thread.call(5.0, database.dispose)
        thread.stop()


def _count_forever(engine: Engine) -> int:
    """A statement that ends only when interrupted."""
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(endless).scalar_one())


def _select_one(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT 1").scalar_one())


# ---------------------------------------------------------------- `gateway run`, a real process

#: The stop's deadline in the process test, and what the process may take beyond it
#: (stopping OPC UA and the pollers, closing the connections, leaving Python).
SHUTDOWN_TIMEOUT = 2.0
EXIT_MARGIN = 8.0


class _Lines:
    """A process's stderr, read line by line as it comes (so the pipe never fills)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.lines: list[str] = []
        self._changed = asyncio.Condition()

    async def pump(self) -> None:
        while line := await self.stream.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace"))
                self._changed.notify_all()
        async with self._changed:
            self.lines.append("")  # end of stream
            self._changed.notify_all()

    async def until(self, needle: str, *, timeout: float = 20.0) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(
                    lambda: any(needle in line for line in self.lines) or "" in self.lines
                )
        except TimeoutError:
            pytest.fail(f"no {needle!r} within {timeout:g} s: {self.text[-3000:]}")
        if not any(needle in line for line in self.lines):
            pytest.fail(f"the gateway ended before logging {needle!r}: {self.text[-3000:]}")

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.postgres
async def test_gateway_run_stops_within_shutdown_timeout_with_every_connection_frozen(
    tmp_path: Path,
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        async with outage(url) as db, run_plant(make_plant({"plc": PLC_POINTS})) as running:
            config = tmp_path / "gw.yaml"
            config.write_text(
                f"""
gateway: {{name: frozen-db}}
opcua:
  anonymous: true
  endpoint: "opc.tcp://127.0.0.1:0"
  security: {{pki_dir: '{tmp_path / "pki"}'}}
storage:
  url: '{db.url}'
  flush_interval: 100ms
  timeout: 1s
  shutdown_timeout: {SHUTDOWN_TIMEOUT:g}s
devices:
  - name: plc
    host: 127.0.0.1
    port: {running.slave("plc").port}
    scan_interval: 50ms
    tags:
      - {{name: level, table: holding_register, address: 100, type: float32, storage: every_scan}}
""",
                encoding="utf-8",
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "-vv", "run", "-c", str(config),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert process.stderr is not None
            stderr = _Lines(process.stderr)
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(stderr.pump())
                    await stderr.until("storage: batch 3 committed")  # through the proxy
                    db.freeze(new_connections=True)  # the database host is gone, silently
                    await stderr.until("the database did not answer within 1 s")
                    process.send_signal(signal.SIGINT)
                    try:
                        async with asyncio.timeout(SHUTDOWN_TIMEOUT + EXIT_MARGIN):
                            code = await process.wait()
                    except TimeoutError:
                        pytest.fail(
                            f"no exit within {SHUTDOWN_TIMEOUT + EXIT_MARGIN:g} s of SIGINT: "
                            f"{stderr.text[-3000:]}"
                        )
            finally:
                if process.returncode is None:  # a failed test leaves no gateway running
                    process.kill()
                    await process.wait()
    text = stderr.text
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
    dropped = re.search(
        r"storage: (\d+) buffered row\(s\) dropped: the database is still unavailable "
        r"at shutdown \((.*)\)",
        text,
    )
    assert dropped is not None, text[-3000:]
    assert int(dropped.group(1)) > 0
    assert re.search(r"did not answer within|shutdown_timeout \(2 s\) is over", dropped.group(2))
    assert "gateway frozen-db stopped" in text
