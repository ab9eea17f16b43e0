"""The HTTP server on aiohttp, in the gateway's own event loop: the only module importing aiohttp.

aiohttp's low-level server parses HTTP; everything else is ours. Every
client is hostile until it has logged in, so before a route sees a request:

- connections are capped in total and per address (MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_PEER); a new one over a cap pushes out the connection
  silent longest (the OPC UA side's `ConnectionTable`), and is refused when
  none can go;
- a connection that sends no complete request head within IDLE_TIMEOUT is
  closed (aiohttp's keep-alive timer, which also runs before the first
  request), and a head is at most MAX_HEADERS fields of MAX_FIELD_SIZE bytes;
- a body is at most MAX_BODY bytes (a larger Content-Length is refused
  unread) and must arrive within BODY_TIMEOUT.

Requests and responses cross into the routes as `wire.Request`/`Response`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from gateway.errors import GatewayError
from gateway.http.wire import HttpCounters, Request, Response
from gateway.opcua.guards import ConnectionTable, ServerLimits

__all__ = [
    "BODY_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_BODY",
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_PEER",
    "serve",
]

log = logging.getLogger("gateway.http")

Handler = Callable[[Request], Awaitable[Response]]

#: Bytes of a request body: a login or an acknowledgement is a few hundred.
MAX_BODY = 16 * 1024
#: Seconds a body may take to arrive.
BODY_TIMEOUT = 10.0
#: Seconds a connection may stay without a complete request (before the first one too).
IDLE_TIMEOUT = 15.0
#: Header fields of one request, and bytes of each (and of the request line).
MAX_HEADERS = 64
MAX_FIELD_SIZE = 8190
#: Connections at once, and from one address (a browser opens up to 6).
MAX_CONNECTIONS = 64
MAX_CONNECTIONS_PER_PEER = 16
#: Seconds the rest of a refused body is read (and dropped) before the connection closes.
LINGER = 1.0
#: Seconds open requests get to finish when the server stops.
SHUTDOWN_TIMEOUT = 2.0
#: Seconds between two log lines about refused connections.
_REFUSAL_LOG_INTERVAL = 10.0


class _BodyTooLarge(Exception):
    pass


class _GuardedServer(web.Server):
    """aiohttp's low-level server with the bounds of the module docstring around `route`."""

    def __init__(self, route: Handler, *, counters: HttpCounters, **kwargs: Any) -> None:
        super().__init__(self._handle, **kwargs)
        limits = ServerLimits(
            max_connections=MAX_CONNECTIONS, max_connections_per_peer=MAX_CONNECTIONS_PER_PEER
        )
        self._table: ConnectionTable[RequestHandler] = ConnectionTable(limits)
        self._route = route
        self._counters = counters
        self._last_refusal_log = -math.inf

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        admission = self._table.admit(handler, address, time.monotonic())
        if admission.evict is not None:
            admission.evict.force_close()
        if not admission.accepted:
            self._counters.connections_refused += 1
            now = time.monotonic()
            if now - self._last_refusal_log >= _REFUSAL_LOG_INTERVAL:
                self._last_refusal_log = now
                log.warning("HTTP: connection from %s refused: %s", address, admission.reason)
            transport.close()
        self._counters.connections = len(self._table)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._table.remove(handler)
        self._counters.connections = len(self._table)
        super().connection_lost(handler, exc)

    async def _handle(self, raw: web.BaseRequest) -> web.StreamResponse:
        self._table.seen(raw.protocol, time.monotonic())
        counters = self._counters
        try:
            body = await _read_body(raw)
        except _BodyTooLarge:
            counters.requests_refused["too_large"] += 1
            counters.responses[413] += 1
            return _plain(413, f"request body over {MAX_BODY} bytes")
        except TimeoutError:
            counters.requests_refused["slow_body"] += 1
            counters.responses[408] += 1
            return _plain(408, f"request body not received within {BODY_TIMEOUT:g} s")
        request = Request(
            method=raw.method,
            path=raw.rel_url.path,
            query=dict(raw.rel_url.query.items()),
            headers={key.lower(): value for key, value in raw.headers.items()},
            cookies=dict(raw.cookies),
            body=body,
            peer=raw.remote or "",
            secure=raw.secure,
        )
        return _native(await self._route(request), raw.secure)


async def _read_body(raw: web.BaseRequest) -> bytes:
    declared = raw.content_length
    if declared is not None and declared > MAX_BODY:
        raise _BodyTooLarge
    if not raw.body_exists:
        return b""
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(BODY_TIMEOUT):
        while chunk := await raw.content.read(MAX_BODY + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                raise _BodyTooLarge
    return b"".join(chunks)


def _plain(status: int, text: str) -> web.Response:
    """A refusal; the connection closes after it (once LINGER has passed for an unread body)."""
    response = web.Response(status=status, text=text + "\n")
    response.force_close()
    return response


def _native(response: Response, secure: bool) -> web.Response:
    native = web.Response(status=response.status, body=response.body, headers=response.headers)
    native.headers["Content-Type"] = response.content_type
    for cookie in response.cookies:
        native.set_cookie(
            cookie.name,
            cookie.value,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=secure,
            max_age=cookie.max_age,
        )
    return native


@asynccontextmanager
async def serve(
    handler: Handler,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    counters: HttpCounters,
) -> AsyncIterator[int]:
    """Serve `handler` on host:port until the block ends; yields the port listened on."""
    server = _GuardedServer(
        handler,
        counters=counters,
        handler_cancellation=True,
        keepalive_timeout=IDLE_TIMEOUT,
        max_headers=MAX_HEADERS,
        max_field_size=MAX_FIELD_SIZE,
        max_line_size=MAX_FIELD_SIZE,
        lingering_time=LINGER,
        access_log=None,
    )
    runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            host,
            port,
            ssl_context=ssl_context,
            reuse_address=True,
        )
        try:
            await site.start()
        except OSError as error:
            scheme = "https" if ssl_context else "http"
            raise GatewayError(
                f"HTTP: cannot listen on {scheme}://{_shown(host)}:{port}: "
                f"{error.strerror or error}: is another program using the port? "
                "Choose another with http.listen"
            ) from None
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host
