"""A fake `Clock` for pollers, links and transports: time moves only when the test lets it.

Two ways to drive it (the idea of trio's MockClock):

- `clock.run(main())` runs `main` on an event loop whose time is this
  clock's and which, whenever every task waits, jumps to the next timer
  instead of sleeping (autojump). Minutes of polling run in milliseconds,
  in the same order every time, however busy the machine. Nothing in it may
  wait for real I/O: use the in-memory transport (memorymodbus.py). When
  every task waits and no timer is set, nothing can ever happen: `run`
  raises `Deadlock` rather than hang.
- `clock.advance(seconds)` on any loop fires the timers due by then, in
  order, at once: for code that also does real I/O (the TCP client), whose
  timeouts a test wants to see fire at an exact time.

`jump(seconds)` moves time without firing anything: the process stalled,
and the timers find themselves late (missed scans).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple

from gateway.modbus.clock import Timer

__all__ = ["Deadlock", "FakeClock"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Deadlock(RuntimeError):
    """Every task waits and no timer is set: the run can never go on."""


class _FakeTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A `Clock` whose time the test moves (see the module docstring)."""

    def __init__(self, *, start: float = 1000.0, epoch: float = 1_700_000_000.0) -> None:
        self._now = start
        self._epoch = epoch - start  # wall() at `start` is `epoch`
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._order = itertools.count()

    # -- the Clock interface ---------------------------------------------------------

    def now(self) -> float:
        return self._now

    def perf(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + self._now

    def call_later(self, delay: float, callback: Callable[[*Ts], object], *args: *Ts) -> Timer:
        if delay <= 0:  # due already: soon, as a loop would
            return asyncio.get_running_loop().call_soon(callback, *args)
        when = self._now + delay
        timer = _FakeTimer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()

    # -- driving it --------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every timer due by then, in order."""
        self._fire_until(self._now + seconds)

    def jump(self, seconds: float) -> None:
        """Move time forward without firing: the timers are late when the loop looks."""
        self._now += seconds

    @property
    def pending(self) -> int:
        """Timers set and not cancelled."""
        return sum(not timer.cancelled for _, _, timer in self._timers)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run `main` on a loop on this clock that jumps ahead whenever every task waits."""
        with asyncio.Runner(loop_factory=lambda: _AutojumpLoop(self)) as runner:
            return runner.run(main)

    # -- internals -----------------------------------------------------------------------

    def _next_due(self) -> float | None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def _fire_until(self, target: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= target:
            _, _, timer = heapq.heappop(timers)
            if not timer.cancelled:
                self._now = max(self._now, timer.when)
                timer.callback(*timer.args)
        self._now = max(self._now, target)

    def _idle(self, loop_timeout: float | None) -> None:
        """Every task waits: jump to the next timer, this clock's or the loop's."""
        candidates = [self._now + loop_timeout] if loop_timeout is not None else []
        due = self._next_due()
        if due is not None:
            candidates.append(due)
        if not candidates:
            raise Deadlock("every task waits and no timer is set: nothing can happen any more")
        self._fire_until(min(candidates))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _IdleSelector(selectors.DefaultSelector):
    """Polls without blocking; where the loop would block, the clock jumps instead."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        self._clock._idle(timeout)
        return []


class _AutojumpLoop(asyncio.SelectorEventLoop):
    """An event loop on a FakeClock's time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(_IdleSelector(clock))
        self._fake_clock = clock

    def time(self) -> float:
        return self._fake_clock.now()
