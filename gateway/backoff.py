"""Capped exponential backoff with jitter: the one rule of every retry loop.

The device reconnects (`gateway.modbus.health.RetryPolicy`) and the storage
writer's commit retries wait the same way: `first · 2^(n-1)` after the n-th
consecutive failure, capped at `cap`, less a random share of up to `jitter`
so that many parts that failed together (a switch reboot, a database
restart) do not all retry in the same instant. Pure: the random number comes
from `draw` (say `random.Random(seed).random`, or `lambda: 0.0` in a test).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["backoff_delay"]

#: Doublings beyond this exceed every sane cap (2**30 × 1 ms is 12 days): the
#: exponent stops here so that the n-th failure of a long outage stays a float.
_MAX_DOUBLINGS = 30


def backoff_delay(
    failures: int, *, first: float, cap: float, jitter: float, draw: Callable[[], float]
) -> float:
    """Seconds to wait after `failures` consecutive failures (1 for the first).

    `draw()` returns a number in [0, 1): the wait is the nominal delay scaled
    by `1 - jitter · draw()`, so it never exceeds the nominal one.
    """
    if failures < 1:
        raise ValueError("a backoff needs at least one failure")
    nominal = min(cap, first * 2.0 ** min(failures - 1, _MAX_DOUBLINGS))
    return nominal * (1.0 - jitter * draw())
