"""Device health: connection state, counters and the reconnect/demotion policy.

`RetryPolicy` is pure (what to do after the n-th consecutive failure);
`DeviceHealth` is the live, observable record a poller keeps for its device
and the OPC UA `<device>._Status` nodes show (docs/opcua.md); its counters
(errors by kind, the response time histogram) are what /metrics reads at
scrape time (docs/operations.md).
"""

from __future__ import annotations

import random
import time
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.backoff import backoff_delay
from gateway.errors import DeviceError, DeviceTimeout, MalformedResponse, ModbusException

__all__ = [
    "RESPONSE_TIME_BOUNDS",
    "DeviceHealth",
    "DeviceState",
    "ErrorKind",
    "ResponseTimes",
    "RetryPolicy",
    "error_kind",
]

#: Transitions kept per device: enough to see a flapping device, bounded forever.
HISTORY = 32
#: Upper bounds (seconds) of the response time histogram's buckets: a Modbus TCP
#: answer on a LAN takes about a millisecond, a serial gateway's tens to hundreds.
RESPONSE_TIME_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ErrorKind(StrEnum):
    """Why a request or a connection attempt failed (the `kind` label of the error metric)."""

    TIMEOUT = "timeout"  # no answer in time
    CONNECTION = "connection"  # refused, reset or lost
    MALFORMED = "malformed"  # an answer that does not fit the request
    EXCEPTION = "exception"  # the PLC answered with a Modbus exception code
    OTHER = "other"  # an internal error of the poller


def error_kind(error: DeviceError) -> ErrorKind:
    """The kind of a failure the poller handles (a timeout may be the cause of a lost link)."""
    if isinstance(error, DeviceTimeout) or isinstance(error.__cause__, DeviceTimeout):
        return ErrorKind.TIMEOUT
    if isinstance(error, MalformedResponse):
        return ErrorKind.MALFORMED
    if isinstance(error, ModbusException):
        return ErrorKind.EXCEPTION
    if type(error) is DeviceError:  # the poller's wrapper of an internal error
        return ErrorKind.OTHER
    return ErrorKind.CONNECTION


@dataclass(slots=True)
class ResponseTimes:
    """A fixed-bucket histogram of response times: one bisect and two additions per answer.

    `counts[i]` holds the answers in bucket i alone (not cumulative); the last
    bucket is everything above the largest bound. Read at scrape time.
    """

    counts: list[int] = field(default_factory=lambda: [0] * (len(RESPONSE_TIME_BOUNDS) + 1))
    total: float = 0.0  # seconds, summed

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(RESPONSE_TIME_BOUNDS, seconds)] += 1
        self.total += seconds


class DeviceState(StrEnum):
    """Connection state of one device, as served in `_Status.State`."""

    CONNECTING = "connecting"
    OK = "ok"
    BACKOFF = "backoff"
    DEMOTED = "demoted"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, and Kepware-style auto-demotion.

    After every `demote_after` consecutive failures the device is demoted for
    `demote_for` seconds (no requests at all); in between, reconnects wait
    `reconnect_min * 2**(n-1)` capped at `reconnect_max`, scaled by a random
    factor in [1 - jitter, 1] so many devices that failed together do not
    reconnect in lockstep (`gateway.backoff`, the storage writer's rule too).
    """

    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    demote_after: int = 3  # 0 disables demotion
    demote_for: float = 10.0
    jitter: float = 0.5

    def after_failure(self, failures: int, rng: random.Random) -> tuple[DeviceState, float]:
        """The state to enter after `failures` consecutive failures, and for how long."""
        if failures < 1:
            raise ValueError("after_failure needs at least one failure")
        if self.demote_after and failures % self.demote_after == 0:
            return DeviceState.DEMOTED, self.demote_for
        delay = backoff_delay(
            failures,
            first=self.reconnect_min,
            cap=self.reconnect_max,
            jitter=self.jitter,
            draw=rng.random,
        )
        return DeviceState.BACKOFF, delay


@dataclass(slots=True)
class DeviceHealth:
    """Live state and counters of one device; `version` bumps on every change."""

    device: str
    state: DeviceState = DeviceState.CONNECTING
    connected: bool = False
    last_error: str = ""
    last_poll_time: float | None = None  # POSIX seconds of the last successful response
    response_time_ms: float = 0.0  # of the last request
    requests: int = 0
    errors: int = 0  # every kind, Modbus exceptions included
    timeouts: int = 0
    connection_errors: int = 0
    malformed_responses: int = 0
    other_errors: int = 0
    scans: int = 0
    missed_scans: int = 0
    consecutive_failures: int = 0
    state_since: float = field(default_factory=time.time)
    version: int = 0
    #: Recent transitions as (POSIX time, state entered), oldest first: shows a
    #: flapping device (and lets tests see states that last microseconds).
    history: deque[tuple[float, DeviceState]] = field(
        default_factory=lambda: deque(maxlen=HISTORY), repr=False
    )
    response_times: ResponseTimes = field(default_factory=ResponseTimes, repr=False)

    def enter(self, state: DeviceState, *, at: float | None = None) -> bool:
        """Switch state at POSIX time `at` (default now); True when it actually changed
        (callers log transitions)."""
        self.version += 1
        if state is self.state:
            return False
        self.state = state
        self.state_since = time.time() if at is None else at
        self.connected = state is DeviceState.OK
        self.history.append((self.state_since, state))
        return True

    def record_response(self, arrival: float, elapsed: float) -> None:
        """A request got a well-formed answer (data or a Modbus exception)."""
        self.requests += 1
        self.last_poll_time = arrival
        self.response_time_ms = elapsed * 1000.0
        self.response_times.observe(elapsed)
        self.version += 1

    def record_error(
        self,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.CONNECTION,
        request: bool = True,
    ) -> None:
        """A request (or, with request=False, a connection attempt) failed.

        Modbus exceptions are answers: the poller records them as responses and
        counts them in `errors` alone (so `errors_by_kind` derives them).
        """
        self.requests += request
        self.errors += 1
        if kind is ErrorKind.TIMEOUT:
            self.timeouts += 1
        elif kind is ErrorKind.MALFORMED:
            self.malformed_responses += 1
        elif kind is ErrorKind.OTHER:
            self.other_errors += 1
        elif kind is ErrorKind.CONNECTION:
            self.connection_errors += 1
        # ErrorKind.EXCEPTION: counted in `errors` alone, as the poller's answers are
        self.last_error = message
        self.version += 1

    def errors_by_kind(self) -> dict[ErrorKind, int]:
        """Every error so far by kind; they add up to `errors`."""
        counted = (
            self.timeouts + self.connection_errors + self.malformed_responses + self.other_errors
        )
        return {
            ErrorKind.TIMEOUT: self.timeouts,
            ErrorKind.CONNECTION: self.connection_errors,
            ErrorKind.MALFORMED: self.malformed_responses,
            ErrorKind.EXCEPTION: self.errors - counted,
            ErrorKind.OTHER: self.other_errors,
        }
