"""The one backoff rule (pure): doubling, cap, jitter below nominal, with a pinned draw."""

from __future__ import annotations

import random

import pytest

from gateway.backoff import backoff_delay


@pytest.mark.parametrize(
    ("failures", "nominal"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (10_000, 4.0)]
)
def test_doubles_from_first_up_to_the_cap(failures: int, nominal: float) -> None:
    delay = backoff_delay(failures, first=0.5, cap=4.0, jitter=0.5, draw=lambda: 0.0)
    assert delay == nominal


def test_jitter_takes_up_to_its_share_off_the_nominal_delay() -> None:
    def at(draw: float) -> float:
        return backoff_delay(3, first=0.5, cap=30.0, jitter=0.25, draw=lambda: draw)

    assert at(0.0) == 2.0
    assert at(0.5) == 1.75
    assert at(0.999) == pytest.approx(1.5005)
    rng = random.Random(7)
    delays = [
        backoff_delay(2, first=1.0, cap=30.0, jitter=0.5, draw=rng.random) for _ in range(500)
    ]
    assert all(1.0 < delay <= 2.0 for delay in delays)


def test_without_jitter_the_draw_does_not_matter() -> None:
    assert backoff_delay(2, first=0.1, cap=1.0, jitter=0.0, draw=lambda: 0.9) == 0.2


def test_needs_a_failure() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        backoff_delay(0, first=1.0, cap=2.0, jitter=0.5, draw=lambda: 0.0)
