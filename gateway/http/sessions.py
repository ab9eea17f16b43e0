"""Browser sessions after a login: random tokens, idle and absolute expiry, a bound on count.

A session is a 256-bit random token in an HttpOnly, SameSite=Strict cookie,
mapped here to the identity that logged in. Nothing about it is kept on disk:
a restart logs everybody out. The table holds at most MAX_SESSIONS; a new
login beyond that ends the least recently used one, so a user who logs in
again and again cannot grow it.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from gateway.opcua.users import Identity

__all__ = ["MAX_LIFETIME", "MAX_SESSIONS", "Session", "SessionStore", "new_token"]

#: Logged-in browsers at once.
MAX_SESSIONS = 256
#: Seconds a session lives at most, however active (a shift and a half).
MAX_LIFETIME = 12 * 3600.0


def new_token() -> str:
    """A fresh 256-bit random token, URL- and cookie-safe."""
    return secrets.token_urlsafe(32)


@dataclass(slots=True)
class Session:
    token: str
    identity: Identity
    created: float
    last_seen: float


class SessionStore:
    """Sessions by token; `clock` is monotonic seconds (a fake one in tests)."""

    def __init__(self, *, idle_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, identity: Identity) -> Session:
        now = self._clock()
        self.expire()
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        session = Session(new_token(), identity, now, now)
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of `token` (its idle timer restarts), or None."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[token]
            return None
        session.last_seen = now
        self._sessions.move_to_end(token)
        return session

    def drop(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)

    def expire(self) -> int:
        """Forget every expired session; how many went."""
        now = self._clock()
        expired = [token for token, s in self._sessions.items() if self._expired(s, now)]
        for token in expired:
            del self._sessions[token]
        return len(expired)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self._idle_timeout or now - session.created > MAX_LIFETIME
