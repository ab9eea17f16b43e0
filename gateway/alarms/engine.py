"""The alarm engine: one state machine per configured alarm, fed from the bus.

SKELETON: the signatures below are the contract the OPC UA conditions and the
CLI build against; the bodies are being written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from gateway.alarms.model import AlarmListener, AlarmSnapshot
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.storage import Historian

__all__ = ["AlarmEngine"]


class AlarmEngine:
    """Evaluates every alarm of the config on the values the pollers publish.

    Entering restores each alarm's state from the journal (active and
    unacknowledged alarms come back as they were, not re-raised), subscribes to
    the bus and starts the TaskGroup that consumes it and fires delay timers.
    Every journaled transition goes to `journal.record_alarm`.
    """

    def __init__(
        self,
        config: GatewayConfig,
        bus: Bus,
        *,
        journal: Historian | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    def snapshots(self) -> list[AlarmSnapshot]:
        """Every alarm's current snapshot, in config order."""
        raise NotImplementedError

    def snapshot(self, name: str) -> AlarmSnapshot:
        """One alarm's current snapshot; UnknownAlarm if there is none of that name."""
        raise NotImplementedError

    def add_listener(self, listener: AlarmListener) -> None:
        """Call `listener.alarm_changed` on every change from now on."""
        raise NotImplementedError

    def remove_listener(self, listener: AlarmListener) -> None:
        raise NotImplementedError

    def acknowledge(self, name: str, *, user: str, comment: str = "") -> AlarmSnapshot:
        """Acknowledge an alarm (journaled with user and comment); the new snapshot.

        UnknownAlarm for a wrong name; AlarmAlreadyAcked when in NORMAL or ACKED.
        """
        raise NotImplementedError
