"""systemd's notify protocol for `Type=notify` units: READY, WATCHDOG and STOPPING.

systemd passes NOTIFY_SOCKET (a Unix datagram socket; a leading "@" means
the abstract namespace) and, with `WatchdogSec=`, WATCHDOG_USEC. The gateway
sends READY=1 once every part runs, WATCHDOG=1 every half watchdog period from
the event loop itself (a stalled loop stops the pings and systemd restarts
the service), and STOPPING=1 when it begins to stop. Without NOTIFY_SOCKET
nothing is sent: the same code runs under a terminal, Docker or systemd.
No dependency: the protocol is one datagram per message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Self

from gateway.lifecycle import Part, task_group

__all__ = ["Notifier", "systemd_notifier"]

log = logging.getLogger(__name__)


class Notifier(Part):
    """Sends notify messages; every method does nothing when systemd is not listening.

    A Part (gateway.lifecycle): `async with notifier:` pings the watchdog every
    `watchdog` seconds (if given) from its own TaskGroup, and closes the socket.
    """

    def __init__(self, address: str | None, *, watchdog: float | None = None) -> None:
        self.watchdog = watchdog
        self._address: str | bytes | None = None
        self._socket: socket.socket | None = None
        self.failures = 0
        if address:
            # Abstract namespace: "@name" is "\0name" on the wire.
            self._address = b"\0" + address[1:].encode() if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, message: str) -> None:
        if self._socket is None or self._address is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as error:  # systemd gone or its queue full: never fatal
            self.failures += 1
            if self.failures == 1:
                log.warning("systemd notify: cannot send %r: %s", message.partition("\n")[0], error)

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.send("STOPPING=1")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Ping the watchdog until the block ends; then close the socket."""
        try:
            async with task_group() as group:
                pinger = None
                if self.watchdog is not None and self.enabled:
                    pinger = group.create_task(_ping(self, self.watchdog), name="systemd watchdog")
                try:
                    yield self
                finally:
                    if pinger is not None:
                        pinger.cancel()
        finally:
            self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_period(environ: Mapping[str, str]) -> float | None:
    """Seconds between two pings: half of WATCHDOG_USEC, if it is meant for this process."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def _ping(notifier: Notifier, period: float) -> None:
    while True:
        notifier.send("WATCHDOG=1")
        await asyncio.sleep(period)


def systemd_notifier(environ: Mapping[str, str] | None = None) -> Notifier:
    """A Notifier for NOTIFY_SOCKET, pinging the watchdog as WATCHDOG_USEC asks."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    return Notifier(address, watchdog=_watchdog_period(env) if address else None)
