"""gateway.lifecycle's rules on a minimal part; every real part: integration/test_lifecycle.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gateway.lifecycle import Part, task_group


class Draining(Part):
    """A part whose loop drains a queue once asked to stop (like the historian's writer)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.drained: list[int] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Draining]:
        async with task_group() as group:
            group.create_task(self._drain())
            try:
                yield self
            finally:
                self.queue.put_nowait(None)  # the end mark: drain, then return

    async def _drain(self) -> None:
        while (item := await self.queue.get()) is not None:
            self.drained.append(item)


class Failing(Part):
    @asynccontextmanager
    async def running(self) -> AsyncIterator[Failing]:
        async with task_group() as group:
            group.create_task(self._fail())
            yield self

    async def _fail(self) -> None:
        raise OSError("the port is gone")


async def test_an_error_in_the_block_leaves_as_itself_after_the_queue_drained() -> None:
    part = Draining()

    async def fill_then_fail() -> None:
        async with part:
            part.queue.put_nowait(1)
            part.queue.put_nowait(2)
            raise KeyError("the block's own")

    with pytest.raises(KeyError):
        await fill_then_fail()
    assert part.drained == [1, 2]


async def test_a_cancelled_block_drains_then_stays_cancelled() -> None:
    part = Draining()
    entered = asyncio.Event()

    async def body() -> None:
        async with part:
            part.queue.put_nowait(7)
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(body())  # the test's own task, awaited below
    async with asyncio.timeout(5):
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert part.drained == [7]


async def test_a_failing_task_cancels_the_block_and_leaves_in_an_exception_group() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        async with asyncio.timeout(5), Failing():
            await asyncio.Event().wait()
    assert raised.group_contains(OSError, match="the port is gone")


async def test_a_part_runs_once_even_after_it_failed() -> None:
    part = Failing()
    with pytest.raises(ExceptionGroup):
        async with asyncio.timeout(5), part:
            await asyncio.Event().wait()
    with pytest.raises(RuntimeError, match="Failing runs once"):
        async with part:
            pass
