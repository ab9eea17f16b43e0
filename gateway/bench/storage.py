"""Storage workload: batch insert rows/s into SQLite and PostgreSQL, and the naive baseline.

Rows look like the writer's: scans of T float32 tags in time order, each
batch mapped to tag ids, sorted and inserted through `Database.write` on the
storage thread with a deadline per call (the path the running gateway uses:
`StorageThread.call`, the connection cutter armed), one transaction per
batch. Every run inserts into the same, growing table after an unmeasured
warm-up run, so later runs pay for a larger index. The baseline sends one
INSERT statement per row (committed per batch, which flatters it), as many
gateways do, on the same thread.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.bench.report import Report
from gateway.config import StorageConfig, Synchronous
from gateway.model import DataType, Status
from gateway.storage.database import Database
from gateway.storage.rows import Row, to_us
from gateway.storage.scratch import naive_write, scratch_url
from gateway.storage.tagsync import TagInfo
from gateway.storage.thread import StorageThread

__all__ = ["StorageSpec", "bench_storage", "insert_until"]


@dataclass(frozen=True, slots=True)
class StorageSpec:
    rows: int = 200_000  # per measured run
    tags: int = 1000
    batch: int = StorageConfig().batch_size  # the writer's batch when catching up
    runs: int = 3
    naive_rows: int = 20_000
    synchronous: Synchronous = Synchronous.NORMAL


class _Rows:
    """Scans of every tag, each scan 1 s after the last, values random."""

    def __init__(self, tags: int, seed: int = 0) -> None:
        self.keys = [f"bench.t{i}" for i in range(tags)]
        self._rng = random.Random(seed)
        self._scan = 0
        self._start = time.time() - 86400

    def take(self, count: int) -> list[Row]:
        rows: list[Row] = []
        good = int(Status.GOOD)
        while len(rows) < count:
            ts = to_us(self._start + self._scan)
            self._scan += 1
            rows += [(key, ts, self._rng.uniform(0, 100), None, good) for key in self.keys]
        return rows[:count]


#: Deadline of each call in the benchmark: generous, as a slow baseline batch must not be
#: cut; what a deadline costs (two timers per call) does not depend on its length.
_CALL_TIMEOUT = 600.0


async def _rate(
    thread: StorageThread,
    write: Callable[[Sequence[Row]], int],
    rows: list[Row],
    batch: int,
) -> float:
    started = time.perf_counter()
    for index in range(0, len(rows), batch):
        await thread.call(_CALL_TIMEOUT, write, rows[index : index + batch])
    return len(rows) / (time.perf_counter() - started)


def _measure(url: str, spec: StorageSpec) -> tuple[list[float], list[float]]:
    """(batch rows/s per run, naive rows/s per run) on one fresh database."""
    return asyncio.run(_measure_on_the_storage_thread(url, spec))


async def _measure_on_the_storage_thread(
    url: str, spec: StorageSpec
) -> tuple[list[float], list[float]]:
    source = _Rows(spec.tags)
    infos = [TagInfo("bench", key.partition(".")[2], DataType.FLOAT32) for key in source.keys]
    storage = StorageConfig(url=url, synchronous=spec.synchronous)
    database = Database(storage, infos, gateway="bench")
    thread = StorageThread(database.cutter.cut)
    thread.start()
    try:
        await thread.call(_CALL_TIMEOUT, database.prepare)
        await _rate(thread, database.write, source.take(spec.rows), spec.batch)  # warm-up
        batch = [
            await _rate(thread, database.write, source.take(spec.rows), spec.batch)
            for _ in range(spec.runs)
        ]
        naive_rows = functools.partial(naive_write, database)
        naive = [
            await _rate(thread, naive_rows, source.take(spec.naive_rows), spec.batch)
            for _ in range(spec.runs)
        ]
    finally:
        await thread.call(_CALL_TIMEOUT, database.dispose)
        thread.stop()
    return batch, naive


def insert_until(url: str, stop: threading.Event, *, tags: int = 1000) -> int:
    """Insert batches of the default size into `url` until `stop` is set; rows inserted."""
    source = _Rows(tags)
    infos = [TagInfo("bench", key.partition(".")[2], DataType.FLOAT32) for key in source.keys]
    database = Database(StorageConfig(url=url), infos, gateway="bench")
    inserted = 0
    try:
        database.prepare()
        while not stop.is_set():
            inserted += database.write(source.take(StorageConfig().batch_size))
    finally:
        database.dispose()
    return inserted


def bench_storage(spec: StorageSpec, *, postgres_url: str | None) -> Report:
    """The storage workload (docs/performance.md): SQLite, and PostgreSQL given a URL."""
    report = Report(
        "storage",
        {
            "rows_per_run": spec.rows,
            "tags": spec.tags,
            "batch": spec.batch,
            "runs": spec.runs,
            "sqlite_synchronous": spec.synchronous.value,
        },
    )
    targets = {"sqlite": "≥ 200000", "postgresql": "≥ 150000"}
    databases: list[tuple[str, str | None]] = [("sqlite", None)]
    if postgres_url is not None:
        databases.append(("postgresql", postgres_url))
    for name, url in databases:
        with scratch_url(url) as scratch:
            batch, naive = _measure(scratch, spec)
        report.add(f"{name} batch insert", "rows/s", batch, targets[name])
        report.add(f"{name} one INSERT per row", "rows/s", naive)
        report.add(f"{name} batch / naive", "×", [b / n for b, n in zip(batch, naive, strict=True)])
    return report
