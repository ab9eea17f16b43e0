"""Logins to the status page: the OPC UA users and roles, with the OPC UA side's throttle.

The same `Users` check passwords (in constant time, unknown names too) and
the same `LoginThrottle` rules apply: after 5 failures from one address it is
locked out for 10 s, doubling up to 15 min; after 5 failures for one name
every attempt for it waits 0.25 s, doubling up to 2 s (docs/security.md,
"Password guessing"). The HTTP side keeps its own throttle: failures over
OPC UA and over HTTP are counted apart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.opcua.guards import LoginThrottle, ServerLimits
from gateway.opcua.guards.throttle import UNKNOWN_USER
from gateway.opcua.users import Identity, Refusal, Users

__all__ = ["LOCKOUT_LOG_INTERVAL", "LoginGuard", "LoginRefused"]

log = logging.getLogger("gateway.http")

#: Seconds between two log lines about refusals of a locked-out address.
LOCKOUT_LOG_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class LoginRefused:
    """Why a login failed, as the browser is told: 401 wrong credentials, 429 locked out."""

    status: int
    message: str
    retry_after: int = 0  # seconds, for a 429


class LoginGuard:
    """Checks logins against `users` under the throttle; counts refusals for /metrics."""

    def __init__(
        self,
        users: Users,
        *,
        limits: ServerLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._users = users
        self._throttle = LoginThrottle(limits or ServerLimits())
        self._clock = clock
        self._sleep = sleep
        self._last_lockout_log = -math.inf
        self.refused = 0

    async def login(self, name: str, password: str, peer: str) -> Identity | LoginRefused:
        bucket = name if self._users.known(name) else UNKNOWN_USER
        throttle = self._throttle
        verdict = throttle.verdict(bucket, peer, self._clock())
        if verdict.refused:
            throttle.failed(bucket, peer, self._clock())
            self.refused += 1
            wait = math.ceil(verdict.locked_for)
            if self._clock() - self._last_lockout_log >= LOCKOUT_LOG_INTERVAL:
                self._last_lockout_log = self._clock()
                log.warning(
                    "HTTP: login of %r from %s refused unchecked: locked out for %d s "
                    "after repeated failures",
                    name,
                    peer,
                    wait,
                )
            return LoginRefused(
                429, f"too many failed logins from your address: try again in {wait} s", wait
            )
        if verdict.delay:
            await self._sleep(verdict.delay)
        outcome = self._users.login(name, password)
        if isinstance(outcome, Refusal):
            throttle.failed(bucket, peer, self._clock())
            self.refused += 1
            log.warning("HTTP: login of %r from %s refused: %s", name, peer, outcome.reason)
            return LoginRefused(401, "wrong user name or password")
        throttle.succeeded(bucket, peer)
        log.info("HTTP: %s logged in from %s (%s)", outcome, peer, outcome.role)
        return outcome
