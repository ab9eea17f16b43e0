"""Real notification receivers started by the tests: an HTTP server (aiohttp) and an
SMTP server (aiosmtpd), each on 127.0.0.1, recording what arrives."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from tlskit import localhost_certificate

__all__ = ["Hook", "Mailbox", "free_port", "mailbox", "self_signed", "webhook_receiver"]


def free_port() -> int:
    """A TCP port nobody listens on now (for a receiver started later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Hook:
    """Requests received by the webhook receiver, and what it answers."""

    port: int
    status: int = 200
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alarm"

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.received]


@asynccontextmanager
async def webhook_receiver(hook: Hook) -> AsyncIterator[Hook]:
    """Serve POST /alarm on `hook.port` until the block ends (the receiver is up)."""

    async def receive(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        hook.received.append((dict(request.headers), body))
        hook.arrived.set()
        return web.Response(status=hook.status, text="ok")

    app = web.Application()
    app.router.add_post("/alarm", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", hook.port)
    await site.start()
    try:
        yield hook
    finally:
        await runner.cleanup()


@dataclass
class Mailbox:
    """Messages received by the SMTP server, with the login used."""

    port: int
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and data.password == b"mail-secret":
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:  # noqa: ASYNC110 - filled by the SMTP thread
                await asyncio.sleep(0.05)


def self_signed(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for localhost and 127.0.0.1 (its own CA) and a server context with it."""
    cert, key_file = localhost_certificate(folder, "smtp")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key_file)
    return cert, context


@asynccontextmanager
async def mailbox(
    tls: ssl.SSLContext | None = None, *, implicit: bool = False
) -> AsyncIterator[Mailbox]:
    """A local SMTP server (aiosmtpd, in its thread) that requires a login; with `tls`,
    STARTTLS required before the login, or (`implicit`) TLS from the first byte."""
    box = Mailbox(free_port())
    options: dict[str, Any] = {"auth_require_tls": tls is not None}
    if tls is not None and implicit:
        # TLS below the SMTP session: aiosmtpd does not see it, so it must not ask for it.
        options.update(ssl_context=tls, auth_require_tls=False)
    elif tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box.authenticate,
        auth_required=True,
        **options,
    )
    await asyncio.to_thread(controller.start)
    try:
        yield box
    finally:
        await asyncio.to_thread(controller.stop)
