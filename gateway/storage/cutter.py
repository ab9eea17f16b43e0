"""Cutting an engine's database connections from another thread.

A thread blocked in a driver call cannot be cancelled from Python, and a
half-open connection (a NAT or firewall that dropped its state, a database
host gone without a RST, a proxy that keeps acknowledging) blocks it
forever. What another thread can do is end the driver's own wait:

- PostgreSQL (psycopg): the connection's socket is shut down
  (`shutdown(SHUT_RDWR)` on a duplicate of its descriptor). psycopg's poll
  wakes at once, the read or write fails, and psycopg marks the connection
  broken. The socket is shut down, never closed, so its descriptor stays the
  driver's: no other socket can be handed that number while the driver
  still uses it.
- SQLite: `sqlite3.Connection.interrupt()`, the one call the sqlite3 module
  makes safe from another thread, aborts the running statement ("interrupted";
  the transaction rolls back). The connection stays usable.

The set of open connections is kept from the pool's connect/close events
under a lock that `cut` holds too, so a connection is never cut after the
pool started closing it. A cut PostgreSQL connection is refused at its next
checkout (the pool then discards it and connects anew), so it is never reused
even if the failure surfaced somewhere SQLAlchemy does not look.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

__all__ = ["ConnectionCutter"]


class ConnectionCutter:
    """The DBAPI connections an engine holds, and `cut()` to end any call blocked on them."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, Any] = {}  # id → DBAPI connection (the reference keeps ids unique)
        self._cut: set[int] = set()  # cut and not closed yet: never to be checked out again
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        event.listen(engine, "connect", self._opened)
        event.listen(engine, "close", self._closing)
        event.listen(engine, "invalidate", self._invalidating)
        event.listen(engine, "close_detached", self._closing_detached)
        if engine.dialect.name != "sqlite":
            event.listen(engine, "checkout", self._checkout)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def cut(self) -> int:
        """Cut every open connection (any thread); return how many were cut."""
        with self._lock:
            for key, connection in self._open.items():
                if isinstance(connection, sqlite3.Connection):
                    connection.interrupt()
                else:
                    self._shut_down(connection)
                    self._cut.add(key)
            return len(self._open)

    def _shut_down(self, connection: Any) -> None:
        try:
            descriptor = connection.fileno()
        except self._driver_error:  # psycopg: the connection is already broken
            return
        try:
            with socket.socket(fileno=os.dup(descriptor)) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:  # already disconnected
            pass

    # -- pool events (on the thread using the engine) --------------------------------------

    def _opened(self, connection: Any, _record: Any) -> None:
        with self._lock:
            self._open[id(connection)] = connection

    def _forget(self, connection: Any) -> None:
        with self._lock:
            self._open.pop(id(connection), None)
            self._cut.discard(id(connection))

    def _closing(self, connection: Any, _record: Any) -> None:
        self._forget(connection)

    def _invalidating(self, connection: Any, _record: Any, _error: BaseException | None) -> None:
        self._forget(connection)

    def _closing_detached(self, connection: Any) -> None:
        self._forget(connection)

    def _checkout(self, connection: Any, _record: Any, _proxy: Any) -> None:
        with self._lock:
            cut = id(connection) in self._cut
        if cut:
            raise exc.DisconnectionError("the connection was cut after a call ran out of time")
