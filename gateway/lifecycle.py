"""One way to start and stop a long-running part: `async with part:` around `part.running()`.

Every part that runs background tasks (the acquisition, the alarm engine, the
historian, the OPC UA server, the HTTP server, the systemd notifier and the
simulators' serving) is a `Part`: it writes `running()` as an
`@asynccontextmanager` that owns its tasks in `async with task_group() as
group:` and stops them in a `finally` around its `yield`. The rules are
written here once, and tests/unit/test_lifecycle.py checks them for every part:

- **Failure while entering**: whatever the part started before the failure is
  stopped (the `async with` blocks and `finally` clauses unwind), and the
  error leaves as itself.
- **Failure in the block**: the part stops in order (its loops drain what is
  queued, they are not cancelled by the block's error), then the error leaves
  as itself, not wrapped in an ExceptionGroup by the TaskGroup. An error of a
  part's own task cancels the block and leaves as an ExceptionGroup, as with
  any TaskGroup.
- **Re-entry**: a part runs once. Entering it again, while it runs or after it
  stopped, raises RuntimeError: its subscriptions and connections are closed
  when it stops, so a second run would silently see nothing. Make a new one.
"""

from __future__ import annotations

from asyncio import TaskGroup
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

__all__ = ["Part", "task_group"]


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """A TaskGroup whose block's own error leaves as itself, after every task ended.

    The block must end the group's tasks itself (close their queue, cancel their
    timers) in a `finally`: the group waits for them, it does not cancel them.
    """
    failure: BaseException | None = None
    async with TaskGroup() as group:
        try:
            yield group
        except BaseException as error:  # the block's own: re-raised once the tasks ended
            failure = error
    if failure is not None:
        raise failure


class Part:
    """A long-running part, run once as `async with part:` (see the module for the rules)."""

    _running: AbstractAsyncContextManager[Any] | None = None
    _entered = False

    def running(self) -> AbstractAsyncContextManager[Any]:
        """The part's lifecycle: an `@asynccontextmanager` owning `async with task_group()`."""
        raise NotImplementedError

    @property
    def part_name(self) -> str:
        """How errors name the part."""
        return type(self).__name__

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(f"{self.part_name} runs once: make a new one to run it again")
        self._entered = True
        running = self.running()
        await running.__aenter__()
        self._running = running
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        running, self._running = self._running, None
        if running is None:
            return None
        return await running.__aexit__(exc_type, exc, traceback)
