"""Client sessions: unguessable tokens, bound to one connection, bounded per identity.

asyncua numbered AuthenticationTokens from i=1000, so an attacker's own token
revealed every other, and its ActivateSession moved a session onto the
attacker's channel before checking the identity: the attacker's next Write
ran as the operator. Here:

- a token is 32 random bytes (a ByteString NodeId) and is checked on every
  request against the connection's session;
- a session is bound to the connection it was activated on; it moves to
  another one only through an ActivateSession there that proves the same
  identity (and, on a secured channel, the same client certificate); the
  checks come first, so a failed activation changes nothing (session.py's
  callers do the moving, here only the bookkeeping);
- a session whose connection dropped stays `detached` for its client to
  come back while it has subscriptions, at most `max_detached_per_identity`
  per identity, and is the first to be closed when a new session needs room;
- sessions are bounded in total and per identity, and idle ones expire
  (`expire`, driven by the server's sweeper with the time as an argument).
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from asyncua import ua

from gateway.opcua.guards.limits import ServerLimits
from gateway.opcua.stack.publishing import PublishQueue
from gateway.opcua.users import Identity
from gateway.ua.wire import node_id, token_id

if TYPE_CHECKING:
    from gateway.opcua.stack.connection import Connection

__all__ = ["Session", "SessionRegistry", "SessionState", "TooManySessions"]

#: Random bytes of an AuthenticationToken.
TOKEN_BYTES = 32
#: Where session ids start (asyncua's internal session has i=10 and up).
_FIRST_SESSION_ID = 1_000_000


class SessionState(Enum):
    CREATED = "created"
    ACTIVATED = "activated"
    CLOSED = "closed"


class TooManySessions(Exception):
    """No room for another session (Bad_TooManySessions)."""


@dataclass(eq=False, slots=True)
class Session:
    """One client session. `connection` is None while detached."""

    session_id: ua.NodeId
    auth_token: ua.NodeId
    name: str
    peer: str
    timeout: float
    channel_certificate: bytes | None
    nonce: bytes
    last_activity: float
    connection: Connection | None = None
    identity: Identity | None = None
    state: SessionState = SessionState.CREATED
    detached_at: float | None = None
    publish: PublishQueue = field(default_factory=PublishQueue)

    @property
    def activated(self) -> bool:
        return self.state is SessionState.ACTIVATED

    @property
    def token(self) -> bytes:
        return bytes(self.auth_token.Identifier)  # type: ignore[arg-type]

    def owns_token(self, token: Any) -> bool:
        """`token` is this session's AuthenticationToken (compared in constant time)."""
        return (
            isinstance(token, ua.NodeId)
            and token.NodeIdType == ua.NodeIdType.ByteString
            and isinstance(token.Identifier, bytes)
            and hmac.compare_digest(token.Identifier, self.token)
        )

    def __str__(self) -> str:
        who = self.identity if self.identity is not None else "not logged in"
        return f"session {self.session_id.Identifier!s} of {who} from {self.peer}"


#: Closes a session's subscriptions: (session, delete them, or leave them as orphans).
CloseSubscriptions = Callable[[Session, bool], Awaitable[None]]


class SessionRegistry:
    """Every client session of one server, with the limits of `ServerLimits`."""

    def __init__(self, limits: ServerLimits, close_subscriptions: CloseSubscriptions) -> None:
        self._limits = limits
        self._close_subscriptions = close_subscriptions
        self._by_token: dict[bytes, Session] = {}
        self._next_id = _FIRST_SESSION_ID

    def __len__(self) -> int:
        return len(self._by_token)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._by_token.values()))

    def lookup(self, token: Any) -> Session | None:
        if not isinstance(token, ua.NodeId) or token.NodeIdType != ua.NodeIdType.ByteString:
            return None
        identifier = token.Identifier
        return self._by_token.get(identifier) if isinstance(identifier, bytes) else None

    def revise_timeout(self, requested_ms: float) -> float:
        """The session timeout granted (ms) for the one asked for."""
        limits = self._limits
        if math.isnan(requested_ms) or requested_ms <= 0:
            return limits.max_session_timeout_ms
        return min(max(requested_ms, limits.min_session_timeout_ms), limits.max_session_timeout_ms)

    async def create(
        self,
        *,
        name: str,
        peer: str,
        timeout_ms: float,
        certificate: bytes | None,
        now: float,
    ) -> Session:
        """A new session awaiting activation; raises TooManySessions when full."""
        if len(self._by_token) >= self._limits.max_sessions and not await self._evict_detached(
            None
        ):
            raise TooManySessions(f"{len(self._by_token)} sessions")
        token = secrets.token_bytes(TOKEN_BYTES)
        session = Session(
            session_id=node_id(self._next_id, 1),
            auth_token=token_id(token),
            name=name[:200],
            peer=peer,
            timeout=timeout_ms / 1000.0,
            channel_certificate=certificate,
            nonce=secrets.token_bytes(32),
            last_activity=now,
        )
        self._next_id += 1
        self._by_token[token] = session
        return session

    async def admit_identity(self, session: Session, identity: Identity) -> None:
        """Room for one more session of `identity` (a detached one of it may be closed)."""
        if session.activated and session.identity == identity:
            return
        count = sum(1 for s in self._by_token.values() if s.identity == identity and s.activated)
        if count >= self._limits.max_sessions_per_identity and not await self._evict_detached(
            identity
        ):
            raise TooManySessions(f"{count} sessions of {identity}")

    def detach(self, session: Session, now: float) -> None:
        """The session's connection is gone; keep it for its client to come back."""
        session.connection = None
        session.detached_at = now
        session.publish.clear()

    def detached_of(self, identity: Identity | None) -> list[Session]:
        """Detached sessions (of `identity`, or of anyone), oldest first."""
        found = [
            s
            for s in self._by_token.values()
            if s.detached_at is not None and (identity is None or s.identity == identity)
        ]
        return sorted(found, key=lambda s: s.detached_at or 0.0)

    async def bound_detached(self, identity: Identity | None) -> None:
        """Close the oldest detached sessions of `identity` beyond its share."""
        detached = self.detached_of(identity)
        for session in detached[: max(0, len(detached) - self._limits.max_detached_per_identity)]:
            await self.close(session, delete_subscriptions=True)

    async def close(self, session: Session, *, delete_subscriptions: bool) -> None:
        if session.state is SessionState.CLOSED:
            return
        session.state = SessionState.CLOSED
        self._by_token.pop(session.token, None)
        session.publish.clear()
        session.connection = None
        await self._close_subscriptions(session, delete_subscriptions)

    def idle(self, now: float) -> list[Session]:
        """Sessions past their timeout without a request (the caller closes them)."""
        return [s for s in self._by_token.values() if now - s.last_activity > s.timeout]

    async def _evict_detached(self, identity: Identity | None) -> bool:
        detached = self.detached_of(identity)
        if not detached:
            return False
        await self.close(detached[0], delete_subscriptions=True)
        return True
