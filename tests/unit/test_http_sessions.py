"""Browser sessions and logins: expiry, bounds and the throttle, on a fake clock."""

from __future__ import annotations

import pytest

from gateway.config import Role, UserConfig
from gateway.http.login import LoginGuard, LoginRefused
from gateway.http.sessions import MAX_LIFETIME, MAX_SESSIONS, SessionStore
from gateway.opcua.users import Identity, Users

OPERATOR = Identity("op", Role.OPERATOR)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_timeout() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=60, clock=clock)
    session = store.create(OPERATOR)
    assert len(session.token) >= 43  # 256 random bits
    clock.now += 59
    assert store.get(session.token) is session  # and the idle timer restarts
    clock.now += 59
    assert store.get(session.token) is session
    clock.now += 61
    assert store.get(session.token) is None
    assert len(store) == 0


def test_a_busy_session_still_ends_after_its_lifetime() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=60, clock=clock)
    session = store.create(OPERATOR)
    while clock.now - 1000.0 < MAX_LIFETIME:
        assert store.get(session.token) is session
        clock.now += 50
    clock.now += 1
    assert store.get(session.token) is None


def test_the_table_is_bounded_and_drops_the_least_recently_used() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=3600, clock=clock)
    sessions = [store.create(OPERATOR) for _ in range(MAX_SESSIONS)]
    assert store.get(sessions[0].token) is sessions[0]  # used: now the most recent
    newest = store.create(OPERATOR)
    assert len(store) == MAX_SESSIONS
    assert store.get(sessions[1].token) is None
    assert store.get(sessions[0].token) is sessions[0]
    assert store.get(newest.token) is newest


def test_unknown_tokens_and_logouts() -> None:
    store = SessionStore(idle_timeout=60, clock=Clock())
    assert store.get(None) is None
    assert store.get("forged") is None
    session = store.create(OPERATOR)
    store.drop(session.token)
    assert store.get(session.token) is None


def _guard(clock: Clock, waits: list[float]) -> LoginGuard:
    users = Users(
        [UserConfig(name="op", password="op-secret", role=Role.OPERATOR)], anonymous=False
    )

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return LoginGuard(users, clock=clock, sleep=sleep)


async def test_logins_use_the_opcua_users_and_roles() -> None:
    guard = _guard(Clock(), [])
    assert await guard.login("op", "op-secret", "10.0.0.1") == OPERATOR
    refused = await guard.login("op", "nope", "10.0.0.1")
    assert refused == LoginRefused(401, "wrong user name or password")
    assert await guard.login("ghost", "op-secret", "10.0.0.1") == refused
    assert guard.refused == 2


async def test_an_address_is_locked_out_after_five_failures_and_others_are_not() -> None:
    clock, waits = Clock(), []
    guard = _guard(clock, waits)
    for _ in range(5):
        assert isinstance(await guard.login("op", "guess", "10.0.0.66"), LoginRefused)
    locked = await guard.login("op", "op-secret", "10.0.0.66")
    assert locked == LoginRefused(
        429, "too many failed logins from your address: try again in 10 s", 10
    )
    # The operator at another address logs in; each attempt for the name now waits
    # (six failures for it, the refused one included: 0.25 s doubled once).
    assert await guard.login("op", "op-secret", "10.0.0.2") == OPERATOR
    assert waits == [0.5]
    clock.now += 21  # the doubled lock-out (20 s) is over
    assert await guard.login("op", "op-secret", "10.0.0.66") == OPERATOR


@pytest.mark.parametrize("peers", [1, 3])
async def test_every_refusal_is_counted(peers: int) -> None:
    guard = _guard(Clock(), [])
    for index in range(6):
        await guard.login("op", "guess", f"10.0.0.{index % peers}")
    assert guard.refused == 6
