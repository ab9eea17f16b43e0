"""The session registry: unguessable tokens, bounds in total and per identity, detached
sessions given up first (gateway/opcua/stack/sessions.py; issue 14, findings 1 and 6)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from asyncua import ua

from gateway.config import Role
from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack.sessions import Session, SessionRegistry, SessionState, TooManySessions
from gateway.opcua.users import ANONYMOUS, Identity

OPERATOR = Identity("operator", Role.OPERATOR)
VIEWER = Identity("viewer", Role.VIEWER)
LIMITS = replace(
    ServerLimits(), max_sessions=4, max_sessions_per_identity=2, max_detached_per_identity=1
)


class Closed:
    """Records what the registry asks of the subscriptions when a session closes."""

    def __init__(self) -> None:
        self.calls: list[tuple[Session, bool]] = []

    async def __call__(self, session: Session, delete: bool) -> None:
        self.calls.append((session, delete))


async def _session(registry: SessionRegistry, now: float = 0.0, **kwargs: object) -> Session:
    return await registry.create(
        name="s", peer="127.0.0.1:1", timeout_ms=60_000, certificate=None, now=now, **kwargs
    )


async def _activated(registry: SessionRegistry, identity: Identity, now: float = 0.0) -> Session:
    session = await _session(registry, now)
    await registry.admit_identity(session, identity)
    session.identity = identity
    session.state = SessionState.ACTIVATED
    return session


async def test_tokens_are_random_bytestrings_of_32_bytes() -> None:
    registry = SessionRegistry(LIMITS, Closed())
    first, second = await _session(registry), await _session(registry)
    for session in (first, second):
        assert session.auth_token.NodeIdType == ua.NodeIdType.ByteString
        assert len(session.token) == 32
    assert first.token != second.token
    assert first.session_id != second.session_id


async def test_a_token_is_found_only_as_itself() -> None:
    registry = SessionRegistry(LIMITS, Closed())
    session = await _session(registry)
    assert registry.lookup(session.auth_token) is session
    assert session.owns_token(ua.NodeId(session.token, 0, ua.NodeIdType.ByteString))
    forged = bytes([session.token[0] ^ 1]) + session.token[1:]
    assert registry.lookup(ua.NodeId(forged, 0, ua.NodeIdType.ByteString)) is None
    assert not session.owns_token(ua.NodeId(forged, 0, ua.NodeIdType.ByteString))
    # the numeric tokens asyncua used to hand out are nobody's
    assert registry.lookup(ua.NodeId(1000)) is None
    assert not session.owns_token(ua.NodeId(1000))
    assert not session.owns_token(None)


async def test_the_session_cap_refuses_and_a_detached_session_makes_room() -> None:
    closed = Closed()
    registry = SessionRegistry(LIMITS, closed)
    sessions = [await _session(registry) for _ in range(LIMITS.max_sessions)]
    with pytest.raises(TooManySessions):
        await _session(registry)
    sessions[1].state = SessionState.ACTIVATED
    sessions[1].identity = VIEWER
    registry.detach(sessions[1], now=5.0)
    newcomer = await _session(registry)
    assert registry.lookup(newcomer.auth_token) is newcomer
    assert sessions[1].state is SessionState.CLOSED
    assert closed.calls == [(sessions[1], True)]  # its subscriptions are deleted


async def test_an_identity_holds_at_most_its_share() -> None:
    registry = SessionRegistry(LIMITS, Closed())
    for _ in range(LIMITS.max_sessions_per_identity):
        await _activated(registry, ANONYMOUS)
    extra = await _session(registry)
    with pytest.raises(TooManySessions):
        await registry.admit_identity(extra, ANONYMOUS)
    await registry.admit_identity(extra, OPERATOR)  # another identity still gets in


async def test_an_identitys_own_detached_session_makes_room_for_it() -> None:
    registry = SessionRegistry(LIMITS, Closed())
    first = await _activated(registry, VIEWER)
    await _activated(registry, VIEWER)
    registry.detach(first, now=1.0)
    await registry.admit_identity(await _session(registry), VIEWER)
    assert first.state is SessionState.CLOSED


async def test_detached_sessions_beyond_the_share_are_closed_oldest_first() -> None:
    closed = Closed()
    registry = SessionRegistry(replace(LIMITS, max_sessions_per_identity=3), closed)
    older = await _activated(registry, VIEWER)
    newer = await _activated(registry, VIEWER)
    registry.detach(older, now=1.0)
    registry.detach(newer, now=2.0)
    await registry.bound_detached(VIEWER)
    assert older.state is SessionState.CLOSED
    assert newer.state is SessionState.ACTIVATED
    assert registry.lookup(newer.auth_token) is newer  # its client may still come back
    assert registry.lookup(older.auth_token) is None
    assert closed.calls == [(older, True)]


async def test_idle_sessions_are_the_ones_past_their_timeout() -> None:
    registry = SessionRegistry(LIMITS, Closed())
    session = await _session(registry, now=100.0)
    assert registry.idle(now=100.0 + session.timeout) == []
    assert registry.idle(now=100.0 + session.timeout + 0.001) == [session]


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(0.0, 300_000.0), (float("nan"), 300_000.0), (-1.0, 300_000.0), (1.0, 10_000.0),
     (60_000.0, 60_000.0), (3_600_000.0, 300_000.0)],
)  # fmt: skip
def test_session_timeouts_are_clamped(requested: float, granted: float) -> None:
    registry = SessionRegistry(ServerLimits(), Closed())
    assert registry.revise_timeout(requested) == granted
