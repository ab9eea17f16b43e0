"""A Modbus connection and who may reopen it: one per device, or shared.

Most devices have a link of their own. Devices behind one Modbus TCP gateway
(one host:port, different unit ids) may share one (`connection: <name>`):
many serial gateways accept a single TCP connection or serve one request at a
time anyway (and units on one RS-485 line can only share it). Requests on a
link are serialized with its transport's lock, so a slow unit delays the
others on its link: the price of one connection.

Why an object of its own: reconnecting must be coordinated. The transport
resets the connection on any failure that may leave the stream out of sync,
which cuts every device on the link. Then:

- connection attempts run one at a time, and callers that waited for an
  attempt take its outcome instead of starting another, so devices never
  fight over the socket;
- a request failure is remembered (`failed`), so the other devices see
  `LinkDown` naming it and back off too, instead of reconnecting at once into
  a fault that may be their sibling's;
- a connection the peer closed while idle after answering (PLCs drop idle
  connections; garbage after a valid answer makes the transport reset) is
  reopened once at the next request, without a backoff: nothing was lost.
  Another free reopen needs another answer, so a peer that closes every
  connection at once still meets the backoff;
- the first answer on a new connection wakes devices waiting out a backoff
  for a link-level reason (`wait_usable`): they resume together.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.errors import DeviceError, DeviceTimeout, DeviceUnreachable
from gateway.modbus.clock import LOOP_CLOCK, Clock
from gateway.modbus.transport import ModbusTransport
from gateway.modbus.wording import describe

__all__ = ["Link", "LinkDown", "wake_future"]

log = logging.getLogger(__name__)


class LinkDown(DeviceUnreachable):
    """The connection is gone for a reason outside this request (another device's failure,
    a failed connect, or the peer closing before any answer)."""


def wake_future(future: asyncio.Future[None]) -> None:
    """Resolve a sleeper's future unless it is done already (timer or waker won)."""
    if not future.done():
        future.set_result(None)


class Link:
    """One Modbus connection (`transport`), used by the pollers of one or more devices."""

    def __init__(self, transport: ModbusTransport, *, clock: Clock = LOOP_CLOCK) -> None:
        self.transport = transport
        #: Held for each request, and across a read-modify-write.
        self.lock = transport.lock
        self._clock = clock
        #: Successful connects over the link's life (the first one included).
        self.connects = 0
        #: Connections reopened at once after the peer closed them while idle.
        self.reopens = 0
        self._connect_lock = asyncio.Lock()
        self._attempts_finished = 0
        self._attempt_error: DeviceError | None = None
        #: Why the connection was given up, in words, until reconnected.
        self._failure: str | None = None
        self._answered = False  # the current connection delivered at least one answer
        self._waiters: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"<Link {self.transport.where} connected={self.connected} connects={self.connects}>"

    @property
    def connected(self) -> bool:
        return self.transport.connected

    async def connect(self) -> None:
        """Connect unless connected; concurrent callers share one attempt and its outcome."""
        if self.transport.connected:
            return
        finished = self._attempts_finished
        async with self._connect_lock:
            if self.transport.connected:
                return
            failed = self._attempt_error
            if failed is not None and self._attempts_finished != finished:
                raise _again(failed)  # an attempt failed while we waited: do not repeat it
            try:
                await self.transport.connect()
            except DeviceError as error:
                self._attempt_error = error
                self._failure = describe(error)  # "connect to … failed: connection refused"
                raise
            finally:
                self._attempts_finished += 1
            self._attempt_error = None
            self._failure = None
            self._answered = False
            self.connects += 1

    async def ready(self) -> None:
        """Before a request: reopen a connection closed while idle, else raise LinkDown."""
        if self.transport.connected:
            return
        reopen = not self._connect_lock.locked()  # else: share the attempt in progress
        if reopen:
            if self._failure is not None or not self._answered:
                raise self.down()
            self._answered = False  # one free reopen per answer: never a loop without backoff
        try:
            await self.connect()
        except DeviceError as error:  # a connect failure: the link's, not this request's
            raise LinkDown(describe(error)) from error  # it names host:port and the reason
        if reopen:
            self.reopens += 1
            log.debug("%s closed the connection while idle; reopened", self.transport.where)

    def down(self) -> LinkDown:
        """The error for a request that finds the connection gone, naming why it went."""
        if self._failure is not None:
            return LinkDown(self._failure)
        return LinkDown(f"{self.transport.where} closed the connection")

    def answered(self) -> None:
        """A request got a well-formed answer: the link works (wakes waiting devices once)."""
        if self._answered:
            return
        self._answered = True
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            wake_future(waiter)

    def failed(self, device: str, error: DeviceError) -> None:
        """A request of `device` failed and the connection is gone: tell the others why."""
        if not self.transport.connected and self._failure is None:
            self._failure = f"connection reset after an error on device {device}: {describe(error)}"

    async def wait_usable(self, delay: float) -> None:
        """Sleep `delay` seconds, less if the link answers a request meanwhile."""
        if self.transport.connected and self._answered:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(future)
        handle = self._clock.call_later(delay, wake_future, future)
        try:
            await future
        finally:
            handle.cancel()
            self._waiters.discard(future)

    async def settle(self) -> None:
        """Let a dropped connection finish closing; a live one is left alone."""
        if not self.transport.connected:
            await self.transport.close()

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        await self.transport.close()


def _again(error: DeviceError) -> DeviceError:
    """A fresh exception for a shared outcome (one instance must not be raised twice)."""
    if isinstance(error, DeviceTimeout):
        return DeviceTimeout(str(error))
    return DeviceUnreachable(str(error))
