"""Device health: connection state, counters and the reconnect/demotion policy.

`RetryPolicy` is pure (what to do after the n-th consecutive failure);
`DeviceHealth` is the live, observable record a poller keeps for its device
and the OPC UA `<device>._Status` nodes show (docs/opcua.md).
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.backoff import backoff_delay

__all__ = ["DeviceHealth", "DeviceState", "RetryPolicy"]

#: Transitions kept per device: enough to see a flapping device, bounded forever.
HISTORY = 32


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
    errors: int = 0
    timeouts: int = 0
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
        self.version += 1

    def record_error(self, message: str, *, timeout: bool = False, request: bool = True) -> None:
        """A request (or, with request=False, a connection attempt) failed."""
        self.requests += request
        self.errors += 1
        if timeout:
            self.timeouts += 1
        self.last_error = message
        self.version += 1
