"""What the rest of the gateway sees of an alarm: its state, a snapshot, a listener.

The ISA-18.2 states (shelving and out of service are marks beside them, below):

    NORMAL ──trip──► UNACK ──ack──► ACKED
      ▲               │               │
      │             clear           clear
      │               ▼               │
      └──ack── RTN_UNACK              │
      ▲                               │
      └───────────────────────────────┘

A trip while in RTN_UNACK goes back to UNACK. A limit alarm also carries
which limit is active (`limit`), which may change while active (high →
high_high) without leaving UNACK/ACKED.

The engine (engine.py) owns the state machines; consumers (the OPC UA
conditions, the CLI) get immutable `AlarmSnapshot`s and are told of every
change through `AlarmListener.alarm_changed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gateway.config.alarms import AlarmKind
from gateway.model import Status, Value

__all__ = ["AlarmListener", "AlarmSnapshot", "AlarmState", "Shelving", "Transition"]


class AlarmState(StrEnum):
    """ISA-18.2 alarm states."""

    NORMAL = "normal"
    UNACK = "active_unacked"  # active, not yet acknowledged
    ACKED = "active_acked"  # active, acknowledged
    RTN_UNACK = "rtn_unacked"  # returned to normal, not yet acknowledged

    @property
    def active(self) -> bool:
        return self in (AlarmState.UNACK, AlarmState.ACKED)

    @property
    def acked(self) -> bool:
        return self in (AlarmState.NORMAL, AlarmState.ACKED)


class Shelving(StrEnum):
    """OPC UA Part 9 ShelvedStateMachine: an operator set the alarm aside.

    A shelved alarm is still evaluated and journaled, but notifies no one and
    shows as shelved; a one-shot shelve ends when the alarm clears, a timed
    one at `shelved_until`.
    """

    UNSHELVED = "unshelved"
    ONESHOT = "oneshot"
    TIMED = "timed"


class Transition(StrEnum):
    """Why a snapshot changed; journaled ones are written to the alarm journal."""

    ACTIVATED = "activated"  # normal/rtn → active (after the on-delay)
    LIMIT_CHANGED = "limit_changed"  # still active, another limit (high → high_high)
    CLEARED = "cleared"  # active → normal or rtn-unacked (after the off-delay)
    ACKNOWLEDGED = "acknowledged"  # by a user, with a comment
    SHELVED = "shelved"  # by a user (one-shot or timed), with a reason
    UNSHELVED = "unshelved"  # by a user, or by itself (timed out, one-shot cleared)
    DISABLED = "disabled"  # out of service: not evaluated, notifies no one
    ENABLED = "enabled"  # back in service: evaluated afresh
    QUALITY = "quality"  # the input's quality changed; state kept (not journaled)
    RESTORED = "restored"  # state read back from the journal at start (not journaled)

    @property
    def journaled(self) -> bool:
        return self not in (Transition.QUALITY, Transition.RESTORED)


@dataclass(frozen=True, slots=True)
class AlarmSnapshot:
    """One alarm's state at one moment; immutable, safe to hand to any consumer."""

    name: str
    tag: str  # "<device>.<tag>"
    kind: AlarmKind
    state: AlarmState
    severity: int  # 1..1000
    message: str  # the rendered message of the last transition ("" while never tripped)
    limit: str | None  # the active (or last active) limit key: "high", "low_low", … or None
    value: Value | None  # the input value at the last transition
    quality: Status  # the input's current quality (Good, or why not)
    time: float  # POSIX seconds of the last transition (or of start)
    user: str | None = None  # who acknowledged, shelved, disabled… (on those transitions)
    comment: str | None = None  # their comment or reason
    shelving: Shelving = Shelving.UNSHELVED
    shelved_until: float | None = None  # POSIX seconds, while TIMED
    enabled: bool = True  # False: out of service (Disable)

    @property
    def silenced(self) -> bool:
        """Shelved or disabled: shown as such, notifies no one."""
        return self.shelving is not Shelving.UNSHELVED or not self.enabled

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def acked(self) -> bool:
        return self.state.acked


class AlarmListener(Protocol):
    """Told of every snapshot change, synchronously, in order (keep it quick)."""

    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None: ...
