"""CPU and memory of the gateway process alone, over a measurement window."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

__all__ = ["CpuWindow", "peak_rss_mb"]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(slots=True)
class CpuWindow:
    """User+system CPU seconds per wall second between `start()` and `stop()`."""

    wall_start: float = 0.0
    cpu_start: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0

    def start(self) -> None:
        self.wall_start, self.cpu_start = time.perf_counter(), _cpu_seconds()

    def stop(self) -> float:
        self.wall = time.perf_counter() - self.wall_start
        self.cpu = _cpu_seconds() - self.cpu_start
        return self.cores

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
