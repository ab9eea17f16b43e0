"""A one-shot event-loop timer that fires within tens of microseconds of its time.

Event loops wait with `epoll_wait`, whose timeout is in whole milliseconds,
and uvloop keeps its clock in milliseconds: a `call_later(0.00175)` fires
0.3 to 1 ms late. That is noise for a poll interval but a large share of an
RTU exchange at 115200 baud (8.6 ms for a 20-register read, t3.5 = 1.75 ms),
so the RTU line's gap before a request and the simulator's paced answers wait
on a Linux timerfd instead: a file descriptor the kernel makes readable at a
`CLOCK_MONOTONIC` instant (the clock of `time.perf_counter` and
`time.monotonic` on Linux), watched by the loop like a socket. Arming it is
one system call; its expiry wakes the loop like any readable descriptor.

Python 3.13 has `os.timerfd_create`; on 3.11 and 3.12 the two libc calls go
through ctypes (no maintained binding exists: linuxfd, pytimerfd and butter
have had no release for years). Elsewhere (macOS, Windows) `FineTimer`
falls back to `loop.call_later`, with the loop's resolution.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from collections.abc import Callable

__all__ = ["FINE", "FineTimer"]

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = 0o2000000


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


def _libc_timerfd() -> tuple[Callable[[], int], Callable[[int, float], None]] | None:
    """(create, arm at an absolute monotonic time) through libc, or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc's among them
        create_fd = libc.timerfd_create
        settime = libc.timerfd_settime
    except (OSError, AttributeError):  # pragma: no cover - a libc without timerfd
        return None
    create_fd.argtypes = (ctypes.c_int, ctypes.c_int)
    create_fd.restype = ctypes.c_int
    settime.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    settime.restype = ctypes.c_int
    spec = _Itimerspec()
    value = spec.it_value
    spec_ref = ctypes.byref(spec)

    def create() -> int:
        fd = int(create_fd(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return fd

    def arm(fd: int, at: float) -> None:
        seconds = int(at)
        value.tv_sec, value.tv_nsec = seconds, int((at - seconds) * 1e9)
        if settime(fd, _TFD_TIMER_ABSTIME, spec_ref, None) < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))

    return create, arm


def _os_timerfd() -> tuple[Callable[[], int], Callable[[int, float], None]] | None:
    """The same through `os` (Python 3.13+)."""
    create_fd = getattr(os, "timerfd_create", None)
    settime = getattr(os, "timerfd_settime", None)
    if create_fd is None or settime is None:
        return None
    flags = os.TFD_NONBLOCK | os.TFD_CLOEXEC  # type: ignore[attr-defined,unused-ignore]
    absolute = os.TFD_TIMER_ABSTIME  # type: ignore[attr-defined,unused-ignore]

    def create() -> int:
        return int(create_fd(time.CLOCK_MONOTONIC, flags=flags))

    def arm(fd: int, at: float) -> None:
        settime(fd, flags=absolute, initial=at)

    return create, arm


_TIMERFD = _os_timerfd() or _libc_timerfd()
#: True where timers are fine-grained (a timerfd); False: the loop's own timers.
FINE = _TIMERFD is not None and time.get_clock_info("perf_counter").implementation.startswith(
    "clock_gettime(CLOCK_MONOTONIC"
)


class FineTimer:
    """Calls `callback()` once `time.perf_counter()` reaches the time given to `arm`.

    One timer, re-armed as often as needed (arming again moves it); `close`
    releases its descriptor. Made and used on one running loop.
    """

    __slots__ = ("_armed", "_callback", "_fd", "_handle", "_loop")

    def __init__(self, callback: Callable[[], object]) -> None:
        self._loop = asyncio.get_running_loop()
        self._callback = callback
        self._armed = False
        self._handle: asyncio.TimerHandle | None = None
        self._fd = -1
        if FINE:
            assert _TIMERFD is not None
            self._fd = _TIMERFD[0]()
            self._loop.add_reader(self._fd, self._expired)

    def arm(self, at: float) -> None:
        """Fire at `at` (perf_counter seconds), or soon if it has passed."""
        self._armed = True
        if self._fd >= 0:
            assert _TIMERFD is not None
            # 0 would disarm the timerfd: any instant in the past fires at once.
            _TIMERFD[1](self._fd, max(at, 1e-9))
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_later(at - time.perf_counter(), self._fired)

    def disarm(self) -> None:
        """Call the timer off (it may already have expired: then it does not fire)."""
        self._armed = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        self.disarm()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            if not self._loop.is_closed():  # a transport may be torn down after its loop
                self._loop.remove_reader(fd)
            os.close(fd)

    def _expired(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:  # re-armed since it expired: not yet
            return
        if self._armed:
            self._armed = False
            self._callback()

    def _fired(self) -> None:
        self._handle = None
        if self._armed:
            self._armed = False
            self._callback()
