"""The process around the gateway: uvloop where installed, stop signals, the collector."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from gateway.memory import return_free_memory

__all__ = [
    "FROZEN_CHECK_PERIOD",
    "FROZEN_GROWTH_LIMIT",
    "YOUNG_COLLECTION_PERIOD",
    "collect_young",
    "collector_paused_until_running",
    "run",
    "stop_signals",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Seconds between two young collections while the gateway runs (see collect_young).
YOUNG_COLLECTION_PERIOD = 0.5
#: Frozen objects may grow to this multiple of their first count before a full pass.
FROZEN_GROWTH_LIMIT = 1.25
#: Seconds between two checks of the frozen count: counting walks every frozen
#: object (8 ms per million), too slow for every young collection.
FROZEN_CHECK_PERIOD = 300.0


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
    and turns the collector back on, then returns the heap pages start-up freed to
    the system (gateway.memory); leaving the block turns the collector on in any case.
    """
    enabled = gc.isenabled()
    gc.disable()

    def running() -> None:
        gc.freeze()
        if enabled:
            gc.enable()
        return_free_memory()

    try:
        yield running
    finally:
        if enabled:
            gc.enable()


async def collect_young(
    period: float = YOUNG_COLLECTION_PERIOD,
    growth_limit: float = FROZEN_GROWTH_LIMIT,
    check_period: float = FROZEN_CHECK_PERIOD,
) -> None:
    """Every `period` seconds: collect the youngest generation, then freeze the survivors.

    Under load, most objects the gateway allocates live for seconds: each
    changed value's asyncua DataValue and Variant stay in the address space
    until the tag changes again (10 s on average at 100k tags, 10% changing
    per second). Replacing a value frees the old one, so the collector's
    allocation count (allocations minus deallocations) barely moves while the
    young generation fills with them: measured under `gateway bench latency
    --variant load`, each automatic young collection scanned about 65,000
    live objects and held the GIL for 30-100 ms (a middle-generation one
    130 ms), freeing next to nothing; the event loop stood still meanwhile and
    the latency overhead's p99 was 50-90 ms. Collected by time instead, a
    young collection sees only `period`'s allocations (a few ms), and
    freezing what survived keeps it out of every later collection; the
    allocation count restarts at 0, so automatic collections rarely run.

    Frozen objects are still freed by reference counting (which frees the
    replaced values), but a reference cycle that became garbage after being
    frozen is not. So the frozen count is checked every `check_period`: once it exceeds
    `growth_limit` times its size at the first pass, everything is unfrozen
    and collected in one full pass (one long pause, only when cycles really
    leaked), and the limit starts again from what is left. Returns only when
    cancelled; does nothing while the collector is disabled.
    """
    limit: float | None = None
    checked = -math.inf
    while True:
        await asyncio.sleep(period)
        if not gc.isenabled():
            continue
        gc.collect(0)
        gc.freeze()
        if time.monotonic() - checked < check_period:
            continue
        checked = time.monotonic()
        frozen = gc.get_freeze_count()
        if limit is None:
            limit = frozen * growth_limit
        elif frozen > limit:
            started = time.perf_counter()
            gc.unfreeze()
            freed = gc.collect()
            gc.freeze()
            log.info(
                "garbage collector: full pass over %d frozen objects freed %d in %.2f s",
                frozen,
                freed,
                time.perf_counter() - started,
            )
            limit = gc.get_freeze_count() * growth_limit
