"""A minimal keep-alive HTTP/1.1 GET client for the HTTP benchmark (no dependency).

One connection, one request at a time, bodies with Content-Length only (what
the gateway's server sends). The server closes a connection idle for 15 s
(its keep-alive timeout), as a bench waiting for a 100k-tag gateway's start
leaves it: a GET whose connection turns out closed before any byte of the
answer is sent again once on a new connection, as HTTP clients do.

It exists so the benchmark measures the gateway's server, not a client
library's conveniences, and so aiohttp stays imported by one module of the
gateway.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from gateway.errors import GatewayError

__all__ = ["HttpGet"]

#: Seconds one request may take.
TIMEOUT = 30.0


class HttpGet:
    """`async with HttpGet(url) as get: status, body = await get("/metrics")`."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise GatewayError(f"expected http://HOST:PORT/, got {url!r}")
        self._host, self._port = parts.hostname, parts.port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._answered = False  # the current request's answer began: no retry

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def _connect(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    async def __call__(self, path: str) -> tuple[int, bytes]:
        self._answered = False
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            partial = isinstance(error, asyncio.IncompleteReadError) and error.partial
            if self._answered or partial:
                raise  # the answer broke off: not an idle connection closed by the server
        await self._connect()  # closed while idle: once more on a new connection
        return await self._get(path)

    async def _get(self, path: str) -> tuple[int, bytes]:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise RuntimeError("use HttpGet in `async with`")
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n\r\n".encode())
        async with asyncio.timeout(TIMEOUT):
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            self._answered = True
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = next(
                int(line.split(":", 1)[1])
                for line in lines[1:]
                if line.lower().startswith("content-length:")
            )
            body = await reader.readexactly(length)
        return status, body
