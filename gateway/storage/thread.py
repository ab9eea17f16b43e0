"""The storage thread: blocking database calls, one at a time, each with a deadline.

SQLAlchemy and its drivers block, so the historian runs every database call
on one thread of its own, in order (calls never overlap, the event loop
never waits on the database). A call blocked in a socket read cannot be
cancelled, and on a half-open connection it never returns: TCP keepalives
do not notice while something on the path still acknowledges at the TCP
level (a proxy, a NAT), and a server-side statement timeout needs the server
to hear us. So each call gets a deadline of its own, kept on the event loop:

- when it passes while the call runs, the engine's connections are cut from
  the loop (`ConnectionCutter.cut`: the PostgreSQL socket shut down, an
  SQLite statement interrupted). The blocked read returns at once with an
  error, the pool discards the connection, and the caller gets
  StorageUnavailable naming the deadline; the writer retries on a new
  connection. This works with a blocking driver on a thread because the cut
  ends the driver's wait from outside; nothing has to be cancelled;
- when it passes while the call still waits behind an earlier one, the call
  is withdrawn (it never runs) and fails the same way;
- a call that does not come back within `CUT_GRACE` of its cut (a driver
  that ignored it, a connect still in progress) releases its caller anyway.
  Later calls queue behind it and fail at their own deadlines, so every
  caller, the shutdown included, waits a bounded time. The thread is a
  daemon: a call that never returns cannot keep the process from exiting.

The deadline is kept here, on the event loop, not by the caller: a caller that is
cancelled (a stop, an OPC UA client that went away) leaves its call running,
and the call is still cut when its time is up. A stop brings every pending
call's deadline forward (`hurry`), so `shutdown_timeout` holds for a call
that was already running when the stop began.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.storage.errors import StorageUnavailable

__all__ = ["CUT_GRACE", "CallLater", "StorageThread", "Timer"]

log = logging.getLogger("gateway.storage")

#: Seconds a cut call gets to come back with its own error before its caller is released.
CUT_GRACE = 0.5


class Timer(Protocol):
    def cancel(self) -> None: ...


class CallLater(Protocol):
    """`loop.call_later`'s shape: tests pass a fake clock's."""

    def __call__(self, delay: float, callback: Callable[[], object], /) -> Timer: ...


class _Stage(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    WITHDRAWN = "withdrawn"


@dataclass(eq=False, slots=True)
class _Call:
    function: Callable[[], Any]
    future: asyncio.Future[Any]
    stage: _Stage = _Stage.QUEUED
    late: str = ""  # why it was cut or withdrawn
    timers: list[Timer] = field(default_factory=list)


class StorageThread:
    """Runs blocking calls in order on one daemon thread; see the module docstring."""

    def __init__(
        self,
        cut: Callable[[], object],
        *,
        name: str = "storage",
        call_later: CallLater | None = None,
    ) -> None:
        self._cut = cut
        self._name = name
        self._given_call_later = call_later
        self._call_later: CallLater | None = None
        self._lock = threading.Lock()  # the stage of every call
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[_Call] = set()  # not settled yet (event loop only)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (inside the event loop that will await the calls)."""
        if self._thread is not None:
            raise RuntimeError("the storage thread is already running")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._call_later = self._given_call_later or loop.call_later
        # A queue per thread: a thread left behind by a stop never takes a later call.
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._work, args=(self._queue, loop), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Let the thread end after the calls queued so far; does not wait for it."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    async def call(
        self, timeout: float, function: Callable[..., Any], *args: Any, late: str | None = None
    ) -> Any:
        """`function(*args)` on the thread; StorageUnavailable if it takes over `timeout` s.

        `late` opens that error's message (default: the database did not answer within …).
        """
        if self._thread is None or self._loop is None or self._call_later is None:
            raise RuntimeError("the storage thread is not running")
        call = _Call(functools.partial(function, *args), self._loop.create_future())
        if late is None:
            late = f"the database did not answer within {timeout:g} s"
        self._arm(call, timeout, late)
        self._pending.add(call)
        self._queue.put(call)
        return await call.future

    def hurry(self, within: float, reason: str) -> None:
        """Calls queued or running now end within `within` seconds at the latest
        (a stop: `reason` names its deadline in their errors)."""
        for call in self._pending:
            self._arm(call, within, reason)

    # -- on the event loop ------------------------------------------------------------------

    def _arm(self, call: _Call, delay: float, late: str) -> None:
        assert self._call_later is not None
        call.timers.append(self._call_later(delay, functools.partial(self._expire, call, late)))

    def _expire(self, call: _Call, late: str) -> None:
        """A deadline: withdraw the call if it has not started, else cut its connection."""
        with self._lock:
            stage = call.stage
            if call.late:  # a deadline met it already
                return
            if stage is _Stage.QUEUED:
                call.stage = _Stage.WITHDRAWN
                call.late = late
            elif stage is _Stage.RUNNING:
                call.late = late
                self._cut()
        if stage is _Stage.QUEUED:
            self._fail(call, f"{late}: an earlier call still holds the storage thread")
        elif stage is _Stage.RUNNING:
            assert self._call_later is not None
            call.timers.append(self._call_later(CUT_GRACE, functools.partial(self._release, call)))

    def _release(self, call: _Call) -> None:
        """A cut call that did not come back: its caller goes on without it."""
        self._fail(call, f"{call.late}: the call did not return after its connection was cut")

    def _settle(self, call: _Call, result: Any, error: Exception | None) -> None:
        for timer in call.timers:
            timer.cancel()
        self._pending.discard(call)
        if call.future.done():  # released, or its caller was cancelled
            return
        if error is None:
            # The cut hit the pool's ping of an idle connection (the pool connected anew
            # and the call went on), or the call finished just then: the outcome stands.
            if call.late:
                log.warning(
                    "storage: %s: cut the connection; the call went on over a new one", call.late
                )
            call.future.set_result(result)
        elif call.late:
            self._fail(call, f"{call.late}; the connection was cut", cause=error)
        else:
            call.future.set_exception(error)

    def _fail(self, call: _Call, message: str, *, cause: Exception | None = None) -> None:
        self._pending.discard(call)
        if not call.future.done():
            error = StorageUnavailable(message)
            error.__cause__ = cause
            call.future.set_exception(error)

    # -- on the storage thread --------------------------------------------------------------

    def _work(
        self, calls: queue.SimpleQueue[_Call | None], loop: asyncio.AbstractEventLoop
    ) -> None:
        while (call := calls.get()) is not None:
            with self._lock:
                if call.stage is not _Stage.QUEUED:
                    continue  # withdrawn at its deadline
                call.stage = _Stage.RUNNING
            result: Any = None
            error: Exception | None = None
            try:
                result = call.function()
            except Exception as raised:  # delivered to the caller
                error = raised
            with self._lock:
                call.stage = _Stage.DONE
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(self._settle, call, result, error)
