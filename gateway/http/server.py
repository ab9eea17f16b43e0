"""The HTTP part of a running gateway: routes, sessions and the listening socket in one lifecycle.

`HttpServer` is a Part (gateway.lifecycle): `async with server:` owns the
aiohttp server (aioserver.py) and a TaskGroup (the session sweeper). The routes and
the adapter are imported only when a server is made, so a gateway without
`http:` loads neither aiohttp nor prometheus-client. It runs once; if
listening fails, nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import HttpConfig
from gateway.errors import GatewayError
from gateway.http.parts import Parts
from gateway.lifecycle import Part, task_group

if TYPE_CHECKING:
    from gateway.http.routes import Routes

__all__ = ["SWEEP_INTERVAL", "HttpServer", "http_available"]

log = logging.getLogger("gateway.http")

#: Seconds between two passes forgetting expired sessions (they also expire on use).
SWEEP_INTERVAL = 60.0
_MISSING_EXTRA = (
    "the http section needs aiohttp and prometheus-client: pip install 'modbus-opcua-gateway[http]'"
)


def http_available() -> bool:
    """Whether the `http` extra is installed (found, not imported)."""
    return all(find_spec(name) is not None for name in ("aiohttp", "prometheus_client"))


class HttpServer(Part):
    """Serves /metrics, /healthz, /readyz and the status page for `parts`."""

    def __init__(
        self,
        settings: HttpConfig,
        parts: Parts,
        *,
        config_dir: Path,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not http_available():
            raise GatewayError(_MISSING_EXTRA)
        # Imported here: the routes load prometheus-client, part of the optional extra.
        from gateway.http.routes import Routes  # noqa: PLC0415

        self.settings = settings
        self._config_dir = config_dir
        self.routes: Routes = Routes(
            parts,
            loopback=settings.loopback,
            session_timeout=settings.session_timeout,
            clock=clock,
        )
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one chosen for 0)."""
        if self._port is None:
            raise RuntimeError("the HTTP server is not running")
        return self._port

    @property
    def url(self) -> str:
        """The status page's URL (a wildcard address shown as 127.0.0.1)."""
        host = self.settings.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.settings.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[HttpServer]:
        """Listen until the block ends, then stop listening and sweeping."""
        from gateway.http import aioserver  # noqa: PLC0415 - aiohttp only when serving

        settings = self.settings
        context = self._ssl_context()
        # Listening first, outside the TaskGroup: a port in use leaves as itself.
        async with aioserver.serve(
            self.routes.handle,
            host=settings.host,
            port=settings.port,
            ssl_context=context,
            counters=self.routes.counters,
        ) as port:
            self._port = port
            log.info("HTTP: status page and metrics on %s", self.url)
            if settings.insecure:
                log.warning(
                    "HTTP: %s is reachable beyond this host over plain HTTP (http.insecure): "
                    "logins and session cookies cross the network in clear text",
                    settings.listen,
                )
            async with task_group() as group:
                sweeper = group.create_task(self._sweep(), name="http sessions")
                try:
                    yield self
                finally:
                    sweeper.cancel()
                    self._port = None
        log.info("HTTP server stopped")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.routes.sessions.expire()

    def _ssl_context(self) -> ssl.SSLContext | None:
        tls = self.settings.tls
        if tls is None:
            return None
        cert, key = self._config_dir / tls.cert, self._config_dir / tls.key
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or error
            raise GatewayError(
                f"http.tls: cannot load the certificate {cert} and key {key}: {reason}"
            ) from None
        return context
