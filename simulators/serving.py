"""Serving slaves with a ticker: the structured-concurrency shell of plants and scale runs.

`Serving` is a Part (gateway.lifecycle, which states the rules): it starts a
set of `ModbusSlave`s (stopping those already started if one fails, e.g. a
port in use) and runs one ticker coroutine in a TaskGroup it owns; leaving
stops both. An error in the body propagates unchanged; an error in the
ticker cancels the body and surfaces as an ExceptionGroup, as with any
TaskGroup.

`tick_schedule` keeps a monotonic schedule: tick k is due at start + k * tick,
so there is no drift; when the loop was too busy it jumps to the tick that is
due instead of replaying the missed ones.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Generic, TypeVar

from gateway.lifecycle import Part, task_group
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


class Serving(Part, Generic[T]):
    """Serve `servers` and run `ticker` while the block runs; yields `value`. One use only."""

    def __init__(
        self,
        value: T,
        servers: Sequence[ModbusSlave],
        ticker: Callable[[], Coroutine[Any, Any, None]] | None,
    ) -> None:
        self._value = value
        self.servers = servers
        self._ticker_factory = ticker

    @property
    def part_name(self) -> str:
        return "a simulator's serving"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[T]:
        """Start every slave (stopping those started if one fails), tick until the end."""
        async with AsyncExitStack() as stack:
            for server in self.servers:
                await stack.enter_async_context(server)
            async with task_group() as group:
                ticker = None
                if self._ticker_factory is not None:
                    ticker = group.create_task(self._ticker_factory(), name="ticker")
                try:
                    yield self._value
                finally:
                    if ticker is not None:
                        ticker.cancel()

    async def __aenter__(self) -> T:  # type: ignore[override]  # yields the value served
        await super().__aenter__()
        return self._value
