"""The arithmetic of the latency workload: grids, waits and overhead (pure).

See gateway/bench/latency.py for where the five times come from and
docs/performance.md for the method. Kept apart so it is tested on synthetic
grids with known answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RACE_MARGIN", "Delays", "Sample", "analyse", "grid_phase", "grid_spread"]

#: A change this close before a scan slot (seconds) counts as missing that slot's poll.
RACE_MARGIN = 0.002


@dataclass(frozen=True, slots=True)
class Sample:
    """The five times of one change (POSIX seconds)."""

    changed: float
    source: float
    ready: float
    published: float
    received: float


@dataclass(frozen=True, slots=True)
class Delays:
    """One change's latency and its parts, in seconds; `missed_cycles` publish cycles."""

    total: float
    scan_wait: float
    round_trip: float
    processing: float
    publish_wait: float
    publish_late: float
    delivery: float
    missed_cycles: int

    @property
    def overhead(self) -> float:
        return self.round_trip + self.processing + self.publish_late + self.delivery


#: Fraction of a period within which a time counts as on a grid point (float rounding).
_ON_GRID = 1e-6


def _delay(t: float, phase: float, period: float) -> float:
    """How long after its grid point `t` is (a rounding hair before one counts as on it)."""
    delay = (t - phase) % period
    return 0.0 if period - delay < _ON_GRID * period else delay


def grid_phase(times: Sequence[float], period: float) -> float:
    """The phase (mod `period`) of a fixed grid that the times follow with small delays.

    Every time is a grid point plus a delay ≥ 0, mostly small. Of the times'
    own phases, the grid's is the one the others follow most closely: the
    smallest total delay. A few late times (a busy loop) do not move it, as
    they would move the start of the shortest arc holding every phase.
    """
    phases = sorted(t % period for t in times)
    if not phases:
        return 0.0
    return min(phases, key=lambda start: sum(_delay(p, start, period) for p in phases))


def grid_spread(times: Sequence[float], period: float) -> float:
    """The 90th percentile delay after the grid; near half a period there is no grid to
    speak of (the process that stamps the times was too busy), and the split of a
    latency into waits and overhead is not to be trusted."""
    phase = grid_phase(times, period)
    delays = sorted(_delay(t, phase, period) for t in times)
    return delays[int(0.9 * (len(delays) - 1))] if delays else 0.0


def _floor(t: float, phase: float, period: float) -> float:
    """The latest grid point at or before `t`."""
    return phase + math.floor((t - phase) / period + _ON_GRID) * period


def _ceil(t: float, phase: float, period: float) -> float:
    """The earliest grid point at or after `t`."""
    return phase + math.ceil((t - phase) / period - _ON_GRID) * period


def analyse(samples: Sequence[Sample], scan: float, publishing: float) -> list[Delays]:
    """Split each sample's latency into the waits of its grids and the overhead."""
    scan_phase = grid_phase([s.source for s in samples], scan)
    publish_phase = grid_phase([s.published for s in samples], publishing)
    out = []
    for s in samples:
        # The first poll due after the change saw it, unless a poll that started just
        # before raced the write and saw it too; a poll that ran a scan or more late
        # counts from its slot, so its lateness is overhead, not scan phase. A change
        # just before a slot may have missed that poll (the grid is estimated from the
        # earliest answers, a little after the real slots): RACE_MARGIN decides.
        due = _ceil(s.changed + RACE_MARGIN, scan_phase, scan)
        last_slot = _floor(s.source, scan_phase, scan)
        poll_start = max(s.changed, min(due, last_slot))
        first_cycle = _ceil(s.ready, publish_phase, publishing)
        cycle = _floor(s.published, publish_phase, publishing)
        out.append(
            Delays(
                total=s.received - s.changed,
                scan_wait=poll_start - s.changed,
                round_trip=s.source - poll_start,
                processing=s.ready - s.source,
                publish_wait=first_cycle - s.ready,
                publish_late=s.published - first_cycle,
                delivery=s.received - s.published,
                missed_cycles=max(0, round((cycle - first_cycle) / publishing)),
            )
        )
    return out
