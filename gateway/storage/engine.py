"""Engines for the two supported databases, set up for a write-heavy historian.

SQLite: WAL (readers never block the writer), `synchronous` NORMAL or FULL
per config, a busy timeout so a briefly locked file is waited for rather than
failed, and transactions that SQLAlchemy begins explicitly (the sqlite3
module's own implicit BEGIN would leave DDL outside them). PostgreSQL:
psycopg 3, a connect timeout so an unreachable server fails fast, and a
pre-ping so a restarted server is reconnected transparently. A new SQLite
file (and so its -wal and -shm files) is the owner's alone: 0600, in folders
made 0700 (gateway/filemodes.py).

Both stay below the per-call deadline (`storage.timeout`, given as `timeout`):
a lock or a connect that fails on its own says more than a call cut at its
deadline (thread.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from gateway.config import Synchronous
from gateway.filemodes import create_private_file, make_private_dirs
from gateway.storage.errors import StorageError

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "describe_url", "open_engine"]

#: How long a write waits for another connection's lock before failing (then retried).
SQLITE_BUSY_TIMEOUT_MS = 1000
#: Page cache per SQLite connection. Inserts touch one leaf page per changed tag, but
#: a miss is a read from the OS's file cache: 8 MB inserted as fast as 32 MB at 10k and
#: 100k tags (docs/performance.md, issue 21), and 32 MB filled the RSS of a 100k-tag
#: gateway by 32 MB within minutes.
SQLITE_CACHE_KIB = 8 * 1024
#: WAL pages before a checkpoint (default 1000): each batch rewrites the tail page of
#: every tag it holds, and a longer WAL lets a checkpoint copy such a page once, not per batch.
SQLITE_WAL_AUTOCHECKPOINT = 4000
#: Seconds to establish a PostgreSQL connection before the attempt counts as failed.
POSTGRES_CONNECT_TIMEOUT = 5
#: psycopg (like libpq) takes whole seconds and treats anything below 2 as 2.
_POSTGRES_CONNECT_TIMEOUT_MIN = 2

_DIALECTS = ("sqlite", "postgresql")


def open_engine(
    url: str,
    *,
    synchronous: Synchronous = Synchronous.NORMAL,
    create: bool = True,
    timeout: float | None = None,
) -> Engine:
    """An engine for `url` (sqlite:/// or postgresql+psycopg://), or StorageError.

    With `create` false a missing SQLite file is an error instead of a new database.
    `timeout`: the deadline of each call on it; the busy and connect timeouts stay below.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StorageError(f"invalid database URL {url!r}: {error}") from error
    dialect = parsed.get_backend_name()
    if dialect not in _DIALECTS:
        raise StorageError(
            f"unsupported database {dialect!r} in {parsed.render_as_string()}: "
            "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
    try:
        if dialect == "sqlite":
            busy_ms = SQLITE_BUSY_TIMEOUT_MS
            if timeout is not None:
                busy_ms = min(busy_ms, max(1, int(timeout * 1000 / 2)))
            return _sqlite_engine(url, parsed.database, synchronous, busy_ms, create=create)
        connect_timeout = POSTGRES_CONNECT_TIMEOUT
        if timeout is not None:
            connect_timeout = max(
                _POSTGRES_CONNECT_TIMEOUT_MIN, min(connect_timeout, math.ceil(timeout))
            )
        return create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": connect_timeout},
        )
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StorageError(f"cannot use {parsed.render_as_string()}: {error}") from error


def describe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _sqlite_engine(
    url: str, database: str | None, synchronous: Synchronous, busy_ms: int, *, create: bool
) -> Engine:
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StorageError("SQLite storage needs a database file: sqlite:///gateway.db")
    if not create and not Path(database).is_file():
        raise StorageError(f"no database at {database}: has the gateway run with this config?")
    try:
        make_private_dirs(Path(database).parent)
    except OSError as error:
        raise StorageError(f"cannot create the folder of {database}: {error}") from error
    if create:
        try:  # SQLite gives its -wal and -shm files the database file's mode
            create_private_file(Path(database))
        except OSError as error:
            raise StorageError(f"cannot create the database file {database}: {error}") from error
    engine = create_engine(url, connect_args={"timeout": busy_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.value.upper()}")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine
