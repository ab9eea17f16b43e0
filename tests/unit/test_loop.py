"""The start-up collector pause of `gateway run` (gateway.loop)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway.loop import collector_paused_until_running


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
