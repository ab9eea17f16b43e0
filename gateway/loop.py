"""The process around the gateway: uvloop where installed, stop signals, the collector."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["collector_paused_until_running", "run", "stop_signals"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop when it is available, else on the default loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional at run time
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(main)
    return uvloop.run(main)


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


@contextlib.contextmanager
def collector_paused_until_running() -> Iterator[Callable[[], None]]:
    """The cyclic garbage collector off from here until the gateway runs; yields `running`.

    Start-up (imports, the configuration, the asyncua standard address space,
    the tag nodes) allocates a few million long-lived objects and almost no
    cyclic garbage (measured at 10k tags: about 4,000 unreachable objects of
    900,000). With the collector on, every generation-2 pass walks all that
    was built so far: about 0.6 s of a 10k-tag start (1.9 s instead of 2.5 s
    of CPU). `running()` freezes what start-up built (never scanned again)
    and turns the collector back on; leaving the block turns it on in any case.
    """
    enabled = gc.isenabled()
    gc.disable()

    def running() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield running
    finally:
        if enabled:
            gc.enable()
