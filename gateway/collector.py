"""The process's garbage-collector policy, in one place: every `gc` call of the gateway is here.

CPython's cyclic collector is tuned for programs that make and drop small
objects; the gateway builds millions of long-lived ones at start (the
configuration, asyncua's standard address space, the tag nodes) and then
replaces values that live for seconds. Each phase has its rule, measured
(docs/performance.md):

- `collector_paused()`: off while the configuration's object trees are built;
- `collector_paused_then_frozen()`: off while the OPC UA address space is
  built, then frozen;
- `fewer_young_collections()`: fewer automatic young collections while OPC
  UA serves;
- `collector_paused_until_running()`: off from a command's start until its
  gateway runs, then what start-up built is frozen (`gateway run`, `gateway
  demo` and `gateway bench` apply it the same way);
- `young_collections()`: the young generation collected by time, not by
  allocation count, while the gateway runs (a Part-style lifecycle: its task
  belongs to a TaskGroup it owns, gateway.lifecycle).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from gateway.lifecycle import task_group
from gateway.memory import return_free_memory

__all__ = [
    "FROZEN_CHECK_PERIOD",
    "FROZEN_GROWTH_LIMIT",
    "YOUNG_COLLECTION_PERIOD",
    "YOUNG_COLLECTION_THRESHOLD",
    "collect_young",
    "collector_paused",
    "collector_paused_then_frozen",
    "collector_paused_until_running",
    "fewer_young_collections",
    "young_collections",
]

log = logging.getLogger(__name__)

#: Seconds between two young collections while the gateway runs (see collect_young).
YOUNG_COLLECTION_PERIOD = 0.5
#: Frozen objects may grow to this multiple of their first count before a full pass.
FROZEN_GROWTH_LIMIT = 1.25
#: Seconds between two checks of the frozen count: counting walks every frozen
#: object (8 ms per million), too slow for every young collection.
FROZEN_CHECK_PERIOD = 300.0
#: Net allocations between two young garbage collections while serving (CPython: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large object trees.

    Loading creates millions of objects and no cycles; with the collector on,
    each generation-2 pass walks everything built so far. Measured on a 100k-tag
    file: 29 s with it, 6.5 s without.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collector_paused_then_frozen() -> Iterator[None]:
    """The cyclic garbage collector off while the address space is built, then frozen.

    Building allocates millions of long-lived objects (asyncua's standard
    nodes, then ours). Each full collection scans all of them while holding
    the GIL: measured, that stalled the event loop (the pollers) for up to
    160 ms at a time and made the build twice as slow. Frozen afterwards,
    they are never scanned again, which also keeps later collections short.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextmanager
def fewer_young_collections() -> Iterator[None]:
    """While the block runs: young collections every YOUNG_COLLECTION_THRESHOLD allocations.

    Serving subscriptions allocates notifications that live one publishing
    interval (100 ms and more). With CPython's 700, young collections ran
    every few ms, so nearly all of them survived into the oldest generation
    and made it due for a full collection every second or so: measured under
    `gateway bench fanout` (40,000 notifications/s), full collections of the
    monitored items' objects took 0.18 core and stalled the loop ~0.2 s
    each; with 10,000, collections of all generations took 0.06 core
    (docs/performance.md).

    Leaving restores the thresholds and unfreezes what was frozen: a stopped
    server's nodes may be collected again.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@contextmanager
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
        return_free_memory()  # the heap pages start-up freed, back to the system

    try:
        yield running
    finally:
        if enabled:
            gc.enable()


@asynccontextmanager
async def young_collections() -> AsyncIterator[None]:
    """`collect_young` in a task of its own while the block runs."""
    async with task_group() as group:
        collector = group.create_task(collect_young(), name="young collections")
        try:
            yield
        finally:
            collector.cancel()


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
