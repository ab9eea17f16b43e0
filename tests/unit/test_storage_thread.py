"""The storage thread's deadlines, on a fake clock: cut, withdraw, release, hurry.

Calls block on threading events the test (or the fake cut) sets, so nothing
depends on how fast the machine is; the deadlines fire when the test moves
the fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from gateway.storage.errors import StorageUnavailable
from gateway.storage.thread import CUT_GRACE, StorageThread

#: Longest a test waits for the thread to reach a point (never reached when all is well).
WAIT = 5.0


@dataclass(eq=False)
class _Timer:
    due: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    """`call_later` on a clock that moves only when the test says so."""

    now: float = 0.0
    timers: list[_Timer] = field(default_factory=list)

    def call_later(self, delay: float, callback: Callable[[], object], /) -> _Timer:
        timer = _Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while due := [t for t in self.timers if not t.cancelled and t.due <= self.now]:
            timer = min(due, key=lambda t: t.due)
            self.timers.remove(timer)
            timer.callback()


class Blocker:
    """A blocking call that runs until released: by the test, or by the thread's cut."""

    def __init__(self, result: object = "done") -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.cut = False
        self.result = result

    def __call__(self) -> object:
        self.started.set()
        if not self.released.wait(WAIT):
            raise AssertionError("never released")
        if self.cut:
            raise ConnectionError("server closed the connection unexpectedly")
        return self.result

    async def until_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, WAIT), "the call never started"


@dataclass
class Rig:
    thread: StorageThread
    clock: FakeClock
    cuts: list[int]
    running: list[Blocker] = field(default_factory=list)  # what a cut releases

    def blocker(self, result: object = "done", *, ignores_cut: bool = False) -> Blocker:
        blocker = Blocker(result)
        if not ignores_cut:
            self.running.append(blocker)
        return blocker


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock()
    cuts: list[int] = []
    holder: list[Rig] = []

    def cut() -> None:
        cuts.append(1)
        for blocker in holder[0].running:  # like a socket shut down under a blocked read
            blocker.cut = True
            blocker.released.set()

    thread = StorageThread(cut, call_later=clock.call_later)
    holder.append(Rig(thread, clock, cuts))
    thread.start()
    yield holder[0]
    for blocker in holder[0].running:
        blocker.released.set()
    thread.stop()


async def test_a_call_that_answers_in_time_returns_its_result(rig: Rig) -> None:
    assert await rig.thread.call(5.0, lambda a, b: a + b, 2, 3) == 5
    assert all(timer.cancelled for timer in rig.clock.timers)
    assert rig.cuts == []


async def test_an_error_of_the_call_reaches_the_caller_as_it_is(rig: Rig) -> None:
    def refuse() -> None:
        raise StorageUnavailable("database is down")

    with pytest.raises(StorageUnavailable, match=r"^database is down$"):
        await rig.thread.call(5.0, refuse)
    assert rig.cuts == []


async def test_a_call_running_past_its_deadline_is_cut_and_fails(rig: Rig) -> None:
    stuck = rig.blocker()
    call = asyncio.create_task(rig.thread.call(5.0, stuck))
    await stuck.until_started()
    rig.clock.advance(4.9)
    assert rig.cuts == []
    rig.clock.advance(0.1)
    assert rig.cuts == [1]
    with pytest.raises(StorageUnavailable) as failed:
        await call
    assert str(failed.value) == ("the database did not answer within 5 s; the connection was cut")
    assert isinstance(failed.value.__cause__, ConnectionError)
    assert await rig.thread.call(5.0, lambda: "next") == "next"  # the thread is free again


async def test_a_call_waiting_behind_a_stuck_one_is_withdrawn_and_never_runs(rig: Rig) -> None:
    stuck = rig.blocker(ignores_cut=True)
    ran: list[bool] = []
    first = asyncio.create_task(rig.thread.call(10.0, stuck))
    await stuck.until_started()
    second = asyncio.create_task(rig.thread.call(2.0, lambda: ran.append(True)))
    await asyncio.sleep(0)  # let `second` queue its call
    rig.clock.advance(2.0)
    with pytest.raises(StorageUnavailable, match="earlier call still holds the storage thread"):
        await second
    stuck.released.set()
    assert await first == "done"
    assert await rig.thread.call(1.0, lambda: "after") == "after"
    assert ran == []


async def test_a_cut_call_that_does_not_come_back_releases_its_caller(rig: Rig) -> None:
    deaf = rig.blocker(ignores_cut=True)
    call = asyncio.create_task(rig.thread.call(1.0, deaf))
    await deaf.until_started()
    rig.clock.advance(1.0)
    assert rig.cuts == [1]
    assert not call.done()
    rig.clock.advance(CUT_GRACE)
    with pytest.raises(StorageUnavailable, match="did not return after its connection was cut"):
        await call
    deaf.released.set()  # when it does come back, nobody waits for it any more
    assert await rig.thread.call(1.0, lambda: "after") == "after"


async def test_a_call_that_finishes_despite_its_cut_keeps_its_result_and_logs_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    recovered = rig.blocker(result=42, ignores_cut=True)  # the pool reconnected under it
    call = asyncio.create_task(rig.thread.call(1.0, recovered))
    await recovered.until_started()
    with caplog.at_level(logging.WARNING, "gateway.storage"):
        rig.clock.advance(1.0)
        recovered.released.set()
        assert await call == 42
    assert [r.getMessage() for r in caplog.records] == [
        "storage: the database did not answer within 1 s: "
        "cut the connection; the call went on over a new one"
    ]


async def test_hurry_brings_a_running_call_s_deadline_forward(rig: Rig) -> None:
    stuck = rig.blocker()
    call = asyncio.create_task(rig.thread.call(30.0, stuck))
    await stuck.until_started()
    rig.thread.hurry(2.0, "shutdown_timeout (2 s) is over")
    rig.clock.advance(2.0)
    with pytest.raises(StorageUnavailable, match=r"^shutdown_timeout \(2 s\) is over; the conn"):
        await call
    assert rig.cuts == [1]  # once: the call's own deadline later finds it settled
    rig.clock.advance(30.0)
    assert rig.cuts == [1]


async def test_a_cancelled_caller_leaves_its_call_to_be_cut_at_the_deadline(rig: Rig) -> None:
    stuck = rig.blocker()
    call = asyncio.create_task(rig.thread.call(3.0, stuck))
    await stuck.until_started()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    rig.clock.advance(3.0)
    assert rig.cuts == [1]
    assert await rig.thread.call(1.0, lambda: "after") == "after"


async def test_a_call_needs_a_started_thread() -> None:
    thread = StorageThread(lambda: None)
    with pytest.raises(RuntimeError, match="not running"):
        await thread.call(1.0, lambda: None)


async def test_a_stopped_thread_starts_again_with_a_fresh_queue(rig: Rig) -> None:
    rig.thread.stop()
    assert not rig.thread.running
    rig.thread.start()
    assert await rig.thread.call(1.0, lambda: "again") == "again"
