"""The start-up collector pause of `gateway run` (gateway.collector)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator

import pytest
from eventually import eventually

from gateway.collector import collect_young, collector_paused_until_running


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_until_running_then_start_up_objects_are_frozen() -> None:
    gc.enable()
    gc.unfreeze()
    with collector_paused_until_running() as running:
        assert not gc.isenabled()
        built = [[index] for index in range(1000)]  # long-lived start-up objects
        running()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(built)
    assert gc.isenabled()


def test_the_collector_is_back_on_when_start_up_fails() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused_until_running():
        raise RuntimeError("the gateway did not start")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    gc.disable()
    with collector_paused_until_running() as running:
        running()
        assert not gc.isenabled()
    assert not gc.isenabled()


async def test_young_collections_free_young_cycles_and_freeze_the_survivors() -> None:
    gc.enable()
    gc.unfreeze()
    gc.collect()
    frozen = gc.get_freeze_count()
    kept = [[index] for index in range(1000)]  # long-lived: frozen, never scanned again
    cycle = _Cycle()
    cycle.append(cycle)  # garbage only a collection can free
    freed = _weak(cycle)
    del cycle
    task = asyncio.create_task(collect_young(0.01))
    try:
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert freed() is None
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert gc.get_count()[0] < 1000


async def test_young_collections_wait_while_the_collector_is_off() -> None:
    gc.disable()
    gc.unfreeze()
    frozen = gc.get_freeze_count()
    task = asyncio.create_task(collect_young(0.01))
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert gc.get_freeze_count() == frozen


class _Cycle(list[object]):
    """A list that can be weakly referenced."""


def _weak(value: object) -> Callable[[], object | None]:
    return weakref.ref(value)


async def _until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    await eventually(condition, timeout=timeout, what="a collection")


async def test_cycles_that_die_frozen_are_swept_once_the_frozen_set_grows() -> None:
    gc.enable()
    gc.unfreeze()
    gc.collect()
    cycles = [_Cycle() for _ in range(100)]
    for cycle in cycles:
        cycle.append(cycle)
    refs = [weakref.ref(cycle) for cycle in cycles]
    async with asyncio.TaskGroup() as group:
        task = group.create_task(collect_young(0.01, growth_limit=1.01, check_period=0.0))
        await _until(lambda: gc.get_freeze_count() > 0)  # the first pass froze them
        await asyncio.sleep(0.05)
        del cycles, cycle
        await asyncio.sleep(0.05)  # young passes alone never free frozen garbage
        assert all(ref() is not None for ref in refs)
        kept = [[index] for index in range(gc.get_freeze_count() // 50 + 1000)]
        await _until(lambda: all(ref() is None for ref in refs))  # the full pass
        task.cancel()
    assert len(kept) > 1000
