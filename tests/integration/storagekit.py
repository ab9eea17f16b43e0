"""Storage test kit: a database per test on SQLite and PostgreSQL, and real outages.

`database_url` runs a test on a fresh SQLite file and on a fresh PostgreSQL
schema (its own `search_path`, dropped afterwards). With
GATEWAY_TEST_POSTGRES_URL set the PostgreSQL half must run: an unreachable
server fails the test. Without it that half is skipped, saying why.

`Outage` takes the database away for real: on SQLite another connection holds
the write lock (the writer's commits fail with "database is locked"); on
PostgreSQL the gateway connects through a TCP proxy that is stopped (every
connection cut, the port refusing) and started again on the same port.

`Outage.freeze` makes the nastier PostgreSQL outage: the proxy stops
forwarding on its open connections, in both directions, without closing
them (a NAT or firewall that dropped its state, a database host gone without
a RST). Its kernel still acknowledges what the gateway sends, so neither TCP
keepalives nor the server's statement timeout notice anything. With
`new_connections=True` new connections are accepted and frozen as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pkikit import pki_dir
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from gateway.config import GatewayConfig
from gateway.storage.schema import readings

POSTGRES_ENV = "GATEWAY_TEST_POSTGRES_URL"
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_database(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of `dialect` that lives for the block."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL half of the storage tests")
    schema = f"gwtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:  # fails (never skips) when the server is down
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _with_search_path(base, schema)
    finally:
        with contextlib.suppress(Exception), admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DIALECTS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL, once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def count_readings(url: str) -> int:
    with engine_for(url) as engine, engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(readings)).scalar_one())


def reading_times(url: str) -> list[int]:
    with engine_for(url) as engine, engine.connect() as connection:
        return list(connection.execute(select(readings.c.ts).order_by(readings.c.ts)).scalars())


def gateway_config(
    url: str,
    *,
    devices: list[dict[str, Any]] | None = None,
    name: str = "storage-test",
    **storage: Any,
) -> GatewayConfig:
    """A config with `url` as storage, the given storage keys and devices; `name` is the
    gateway's (gateways of a fleet share one database, their rows told apart by it)."""
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": name},
            # Port 0: several gateways may run at once; certificates in a temp folder.
            "opcua": {
                "anonymous": True,
                "endpoint": "opc.tcp://127.0.0.1:0",
                "security": {"pki_dir": pki_dir()},
            },
            "storage": {"url": url, **storage},
            "devices": devices or [],
        }
    )


def unreachable_device(*names: str, kind: str = "float32") -> dict[str, Any]:
    """A device whose tags exist in the config; the tests publish their values themselves."""
    return {
        "name": "d",
        "host": "127.0.0.1",
        "port": 1,
        "enabled": False,
        "tags": [
            {"name": name, "table": "holding_register", "address": 4 * i, "type": kind}
            for i, name in enumerate(names)
        ],
    }


class _Proxy:
    """A TCP forwarder to PostgreSQL that can be cut, frozen and restored on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        #: Connections accepted over the proxy's life.
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flows: set[asyncio.Event] = set()  # set: forwarding; clear: frozen
        self._freeze_new = False
        self._freeze_marker: bytes | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def freeze(self, *, new_connections: bool = False) -> None:
        """Stop forwarding on every open connection (and on new ones too) without closing."""
        for flow in self._flows:
            flow.clear()
        self._freeze_new = new_connections

    def freeze_at(self, marker: bytes) -> None:
        """Freeze the next connection whose client sends `marker`, before forwarding it."""
        self._freeze_marker = marker

    def _watch(self, data: bytes, flow: asyncio.Event) -> None:
        marker = self._freeze_marker
        if marker is not None and marker in data:
            self._freeze_marker = None
            flow.clear()

    def thaw(self) -> None:
        """Forward again on every connection still open, and on new ones."""
        for flow in self._flows:
            flow.set()
        self._freeze_new = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        handlers = list(self._handlers)
        for handler in handlers:  # a frozen pipe would wait forever
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        flow = asyncio.Event()
        if not self._freeze_new:
            flow.set()
        self._flows.add(flow)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._handlers.discard(task)
            return
        self._writers |= {writer, up_writer}
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(reader, up_writer, flow, self._watch))
                group.create_task(_pipe(up_reader, writer, flow))
        except* OSError:
            pass
        except* asyncio.CancelledError:
            pass  # stopped: asyncio 3.11's stream server would log a cancelled handler
        finally:
            self._flows.discard(flow)
            self._handlers.discard(task)
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.transport.abort()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    flow: asyncio.Event,
    watch: Callable[[bytes, asyncio.Event], None] | None = None,
) -> None:
    while data := await reader.read(65536):
        if watch is not None:
            watch(data, flow)
        await flow.wait()  # frozen: hold the data, read no more, close nothing
        writer.write(data)
        await writer.drain()
    writer.transport.abort()


class Outage:
    """Take the database of `url` away and bring it back (see the module docstring)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._lock: sqlite3.Connection | None = None
        self._proxy: _Proxy | None = None
        self._path = parsed.database or ""
        self.url = url
        if self.dialect == "postgresql":
            self._proxy = _Proxy(parsed.host or "127.0.0.1", parsed.port or 5432)
            self._parsed = parsed

    async def __aenter__(self) -> Outage:
        if self._proxy is not None:
            await self._proxy.start()
            self.url = self._parsed.set(port=self._proxy.port).render_as_string(hide_password=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.up()
        if self._proxy is not None:
            await self._proxy.stop()

    async def down(self) -> None:
        if self._proxy is not None:
            await self._proxy.stop()
            return
        lock = sqlite3.connect(self._path, isolation_level=None, timeout=10)
        lock.execute("BEGIN EXCLUSIVE")
        self._lock = lock

    def freeze(self, *, new_connections: bool = False) -> None:
        """PostgreSQL only: the proxy's open connections (and new ones too) stop forwarding."""
        if self._proxy is None:
            raise RuntimeError("only a PostgreSQL outage freezes connections")
        self._proxy.freeze(new_connections=new_connections)

    def freeze_at(self, marker: bytes) -> None:
        """PostgreSQL only: the next connection to send `marker` freezes before forwarding it."""
        if self._proxy is None:
            raise RuntimeError("only a PostgreSQL outage freezes connections")
        self._proxy.freeze_at(marker)

    @property
    def connections(self) -> int:
        """Connections the PostgreSQL proxy accepted so far."""
        return 0 if self._proxy is None else self._proxy.accepted

    async def up(self) -> None:
        if self._proxy is not None:
            self._proxy.thaw()
            if self._proxy._server is None:
                await self._proxy.start()
            return
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()


@contextlib.asynccontextmanager
async def outage(url: str) -> AsyncIterator[Outage]:
    async with Outage(url) as handle:
        yield handle
