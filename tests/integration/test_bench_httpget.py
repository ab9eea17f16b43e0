"""The benchmarks' HTTP client: a connection the server closed while idle is opened again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeAlias

import pytest

from gateway.bench.httpget import HttpGet

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Reader: TypeAlias = asyncio.StreamReader
Writer: TypeAlias = asyncio.StreamWriter
Handler = Callable[[int, Reader, Writer], Awaitable[None]]


@asynccontextmanager
async def _server(handle: Handler) -> AsyncIterator[str]:
    """A local server calling `handle(connection number, reader, writer)` per connection."""
    count = 0

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        try:
            await handle(count, reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}/"


async def test_an_idle_connection_closed_by_the_server_is_opened_again() -> None:
    async def handle(
        number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if number == 1:
            return  # the keep-alive timeout: closed before any request
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()

    async with _server(handle) as url, HttpGet(url) as get:
        assert await get("/metrics") == (200, b"ok")


async def test_an_answer_that_breaks_off_is_an_error_not_a_retry() -> None:
    async def handle(
        number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER[:20] if number == 1 else ANSWER)  # half a head, then closed
        await writer.drain()

    async with _server(handle) as url, HttpGet(url) as get:
        with pytest.raises(asyncio.IncompleteReadError):
            await get("/metrics")


async def test_a_head_without_its_body_is_an_error_not_a_retry() -> None:
    async def handle(number: int, reader: Reader, writer: Writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head_only = ANSWER[: ANSWER.index(b"\r\n\r\n") + 4]
        writer.write(head_only if number == 1 else ANSWER)  # the body never comes
        await writer.drain()

    async with _server(handle) as url, HttpGet(url) as get:
        with pytest.raises(asyncio.IncompleteReadError):
            await get("/metrics")
