"""Serving slaves with a ticker: the structured-concurrency shell of plants and scale runs.

`Serving` is an async context manager that starts a set of `ModbusSlave`s
(stopping those already started if one fails, e.g. a port in use) and runs
one ticker coroutine in a TaskGroup it owns; leaving stops both. An error in
the body propagates unchanged; an error in the ticker cancels the body and
surfaces as an ExceptionGroup, as with any TaskGroup.

`tick_schedule` keeps a monotonic schedule: tick k is due at start + k * tick,
so there is no drift; when the loop was too busy it jumps to the tick that is
due instead of replaying the missed ones.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Generic, TypeVar

from simulators.server import ModbusSlave

__all__ = ["Serving", "tick_schedule"]

T = TypeVar("T")

#: Slack when deciding which tick is due, against float rounding of the clock.
_DUE_EPSILON = 1e-9


async def tick_schedule(
    tick: float, current: Callable[[], int], advance_to: Callable[[int], Awaitable[None]]
) -> None:
    """Call `advance_to(k)` when tick k is due, forever (cancel to stop)."""
    loop = asyncio.get_running_loop()
    origin = loop.time() - current() * tick
    while True:
        wanted = current() + 1
        delay = origin + wanted * tick - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due = math.floor((loop.time() - origin) / tick + _DUE_EPSILON)
        await advance_to(max(wanted, due))


class Serving(Generic[T]):
    """Serve `servers` and run `ticker` while the block runs; yields `value`. One use only."""

    def __init__(
        self,
        value: T,
        servers: Sequence[ModbusSlave],
        ticker: Callable[[], Coroutine[Any, Any, None]] | None,
    ) -> None:
        self._value = value
        self._servers = servers
        self._ticker_factory = ticker
        self._entered = False
        self._stack = AsyncExitStack()
        self._tasks = asyncio.TaskGroup()
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> T:
        if self._entered:
            raise RuntimeError("this context manager can be entered only once")
        self._entered = True
        async with AsyncExitStack() as stack:
            for server in self._servers:
                await stack.enter_async_context(server)
            await self._tasks.__aenter__()
            if self._ticker_factory is not None:
                self._ticker = self._tasks.create_task(self._ticker_factory(), name="ticker")
            self._stack = stack.pop_all()
        return self._value

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._ticker is not None:
                self._ticker.cancel()
            if exc_type is asyncio.CancelledError:
                # Possibly the TaskGroup cancelling us for a failed ticker: let it
                # see the cancellation so it can raise the ticker's error instead.
                await self._tasks.__aexit__(exc_type, exc, tb)
            else:
                await self._tasks.__aexit__(None, None, None)
        finally:
            await self._stack.aclose()
