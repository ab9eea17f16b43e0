"""CPU and memory of the gateway process alone, over a measurement window.

The gateway is either this process (poll, storage) or a `gateway run` child
(latency, fan-out, start-up), read from /proc.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CpuWindow",
    "ProcessCpuWindow",
    "peak_rss_mb",
    "process_cpu_seconds",
    "process_peak_rss_mb",
    "process_rss_mb",
    "thread_cpu_seconds",
]


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


# -- a child process (the gateway run by `gateway run`), read from /proc ----------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of process `pid` so far (Linux /proc; 10 ms resolution).

    Threads are included (the historian's inserts run on one), children are not.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """User+system CPU seconds of thread `tid` of process `pid` (the main thread: tid = pid)."""
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of process `pid`, in MB."""
    return _status_mb(pid, "VmHWM:")


def process_rss_mb(pid: int) -> float:
    """Resident memory now (VmRSS) of process `pid`, in MB."""
    return _status_mb(pid, "VmRSS:")


@dataclass(slots=True)
class ProcessCpuWindow:
    """Like CpuWindow, for another process: its user+sys seconds per wall second."""

    pid: int
    wall_start: float = 0.0
    cpu_start: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0

    def start(self) -> None:
        self.wall_start, self.cpu_start = time.perf_counter(), process_cpu_seconds(self.pid)

    def stop(self) -> float:
        self.wall = time.perf_counter() - self.wall_start
        self.cpu = process_cpu_seconds(self.pid) - self.cpu_start
        return self.cores

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0
