"""The process around the gateway: uvloop where installed, stop signals.

The garbage collector's policy is gateway.collector's.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from gateway.collector import collector_paused_until_running, young_collections

__all__ = ["run", "run_collected", "stop_signals"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop when it is available, else on the default loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional at run time
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(main)
    return uvloop.run(main)


def run_collected(main: Coroutine[Any, Any, T]) -> T:
    """`run(main)` under the collector policy of a running gateway (gateway.collector).

    `gateway bench` measures in-process parts (pollers, clients) this way, so they
    see the garbage collector as `gateway run` and `gateway demo` do once their
    gateway runs: start-up frozen, the young generation collected by time.
    """
    with collector_paused_until_running() as running:

        async def collected() -> T:
            running()
            async with young_collections():
                return await main

        return run(collected())


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (enter inside the loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        yield stop
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
