"""Login throttling: a lock-out per peer address and a growing delay per user name.

Without it a client tried about 450 passwords a second. Two rules, both
from failures remembered for `failure_memory` seconds:

- per peer (IP address): after `free_failures_per_peer` failures the peer is
  locked out, first for `first_lockout` seconds, doubling with every further
  failure up to `max_lockout`; an attempt while locked out is refused unseen
  (the password is not even checked) and counts as a failure. An attacker
  locks out only its own address; the operator at another one still logs in.
- per user name: after `free_failures_per_user` failures every attempt for
  that name waits `first_delay`, doubling up to `max_delay`. This slows a
  guesser spread over many addresses without ever locking the real user out.

Unknown user names share one bucket, so an attacker cannot grow the table by
inventing names; the table itself forgets its oldest entries beyond
`max_tracked_logins`. A success clears the user's and the peer's failures.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from gateway.opcua.guards.limits import ServerLimits

__all__ = ["UNKNOWN_USER", "LoginThrottle", "LoginVerdict"]

#: The bucket of every user name that is not configured.
UNKNOWN_USER = "\0unknown"


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    """What to do with a login attempt before its password is checked."""

    #: Seconds the peer is still locked out; > 0 means refuse without checking.
    locked_for: float
    #: Seconds to wait before checking the password.
    delay: float

    @property
    def refused(self) -> bool:
        return self.locked_for > 0


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Remembers failed logins; `verdict` before an attempt, `failed`/`succeeded` after."""

    def __init__(self, limits: ServerLimits) -> None:
        self._limits = limits
        self._peers: OrderedDict[str, _Failures] = OrderedDict()
        self._users: OrderedDict[str, _Failures] = OrderedDict()

    def verdict(self, user: str, peer: str, now: float) -> LoginVerdict:
        limits = self._limits
        peer_failures = self._current(self._peers, peer, now)
        lockout = _escalation(
            peer_failures, limits.free_failures_per_peer, limits.first_lockout, limits.max_lockout
        )
        locked_for = 0.0
        if peer_failures is not None and lockout:
            locked_for = max(0.0, peer_failures.last + lockout - now)
        delay = _escalation(
            self._current(self._users, user, now),
            limits.free_failures_per_user,
            limits.first_delay,
            limits.max_delay,
        )
        return LoginVerdict(locked_for=locked_for, delay=delay)

    def failed(self, user: str, peer: str, now: float) -> int:
        """Count a failure; returns the peer's failures so far."""
        self._count(self._users, user, now)
        return self._count(self._peers, peer, now)

    def succeeded(self, user: str, peer: str) -> None:
        self._users.pop(user, None)
        self._peers.pop(peer, None)

    def _current(
        self, table: OrderedDict[str, _Failures], key: str, now: float
    ) -> _Failures | None:
        found = table.get(key)
        if found is not None and now - found.last > self._limits.failure_memory:
            del table[key]
            return None
        return found

    def _count(self, table: OrderedDict[str, _Failures], key: str, now: float) -> int:
        found = self._current(table, key, now)
        if found is None:
            found = table[key] = _Failures(0, now)
            while len(table) > self._limits.max_tracked_logins:
                table.popitem(last=False)
        found.count += 1
        found.last = now
        table.move_to_end(key)
        return found.count


def _escalation(failures: _Failures | None, free: int, first: float, cap: float) -> float:
    """0 within the free failures, then first × 2^(failures beyond them), capped."""
    if failures is None or failures.count < free:
        return 0.0
    steps = failures.count - free
    if steps >= 64:  # without computing huge powers
        return cap
    return float(min(first * (1 << steps), cap))
