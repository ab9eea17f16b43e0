"""The fast path: one batch of readings into the database, duplicates ignored.

Measured on this project's machine (docs/storage.md, `gateway bench storage`):
SQLite takes one driver-level `executemany` of plain tuples (SQLAlchemy's
per-row parameter processing would cost more than the insert); PostgreSQL takes a
binary COPY into a temporary table and one `INSERT … SELECT … ON CONFLICT DO
NOTHING` (COPY alone cannot skip duplicates), about twice as fast as a
multi-row or pipelined INSERT. Rows are sorted by key first: consecutive
inserts then land on the same index pages. Each returns the rows actually
inserted (a replay inserts 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import exc, insert
from sqlalchemy.engine import Connection

from gateway.storage.schema import readings

__all__ = ["IdRow", "InsertRows", "insert_naive", "insert_rows", "insert_sorted"]

#: (tag_id, ts µs, value_num, value_str, status code)
IdRow = tuple[int, int, float | None, str | None, int]
InsertRows = Callable[[Connection, Iterable[IdRow]], int]

_COLUMNS = "tag_id, ts, value_num, value_str, status"
_SQLITE_INSERT = f"INSERT INTO readings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
_PG_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS readings_in "
    "(tag_id integer, ts bigint, value_num double precision, value_str text, status bigint) "
    "ON COMMIT DELETE ROWS"
)
_PG_COPY = f"COPY readings_in ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_PG_TYPES = ["int4", "int8", "float8", "text", "int8"]
_PG_MERGE = (
    f"INSERT INTO readings ({_COLUMNS}) SELECT {_COLUMNS} FROM readings_in ON CONFLICT DO NOTHING"
)


def _sqlite(connection: Connection, rows: Iterable[IdRow]) -> int:
    # The driver's cursor takes an iterator: each row's tuple is built just before it is
    # bound and freed just after (see insert_sorted).
    driver: Any = connection.connection.driver_connection
    with _as_sqlalchemy_errors(connection, _SQLITE_INSERT):
        cursor = driver.cursor()
        try:
            cursor.executemany(_SQLITE_INSERT, rows)
            return max(int(cursor.rowcount), 0)
        finally:
            cursor.close()


def _postgresql(connection: Connection, rows: Iterable[IdRow]) -> int:
    driver: Any = connection.connection.driver_connection
    with _as_sqlalchemy_errors(connection, _PG_COPY), driver.cursor() as cursor:
        # Every time: cheap, and a rolled-back first batch would have undone a one-off CREATE.
        cursor.execute(_PG_STAGE)
        with cursor.copy(_PG_COPY) as copy:
            copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(_PG_MERGE)
        return int(cursor.rowcount)


@contextmanager
def _as_sqlalchemy_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Driver errors from the raw connection, raised as SQLAlchemy would raise them.

    A broken connection is invalidated so the pool does not hand it out again.
    """
    dbapi: Any = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as error:
        raw = connection.connection.dbapi_connection
        broken = bool(connection.dialect.is_disconnect(error, raw, None))
        if broken:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            statement, None, error, dbapi.Error, connection_invalidated=broken
        ) from error


_KEY = itemgetter(0, 1)
_BY_DIALECT: dict[str, InsertRows] = {"sqlite": _sqlite, "postgresql": _postgresql}


def insert_rows(connection: Connection, rows: Sequence[IdRow]) -> int:
    """Insert `rows` in the caller's transaction; return how many were new."""
    if not rows:
        return 0
    return _BY_DIALECT[connection.dialect.name](connection, sorted(rows, key=_KEY))


def insert_sorted(connection: Connection, rows: Iterable[IdRow]) -> int:
    """Insert `rows`, already in key order, in the caller's transaction; return how many were new.

    `rows` may be a generator, and should be one for big batches: this runs on the
    storage thread, and rows built all at once (tens of thousands of tuples alive
    together) set off the garbage collector there, which holds the GIL, and so stalls
    the event loop, for tens of ms (see Database.write).
    """
    return _BY_DIALECT[connection.dialect.name](connection, rows)


def insert_naive(connection: Connection, rows: Sequence[IdRow]) -> int:
    """The baseline many gateways use: one INSERT statement per row (benchmarks only)."""
    statement = insert(readings)
    inserted = 0
    for tag_id, ts, number, text, status in rows:
        result = connection.execute(
            statement,
            {"tag_id": tag_id, "ts": ts, "value_num": number, "value_str": text, "status": status},
        )
        inserted += result.rowcount
    return inserted
