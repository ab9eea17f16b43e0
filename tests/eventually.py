"""`eventually()`: the one poll-until-true-or-fail of the tests (no sleeps to "let it settle").

A test that waits on a state nothing signals (a counter, a file, a socket
count, a node's value) polls it with `await eventually(probe, what=...)`:
`probe` may be sync or async; the first truthy result is returned; after
`timeout` seconds of real time the test fails naming `what` (and what the
probe saw last, when `seen` is given). The deadline is generous by default: on
a busy 2-core machine the thing waited for comes late, not never.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 5.0,
    what: str = "condition",
    interval: float = 0.01,
    seen: Callable[[], object] | None = None,
) -> T:
    """The first truthy result of `probe()`, polled every `interval` s; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]  # awaited above when awaitable
        if time.monotonic() > deadline:
            shown = "" if seen is None else f": {seen()}"
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}{shown}")
        await asyncio.sleep(interval)
