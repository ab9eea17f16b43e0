"""Login throttling (guards/throttle.py): lock-out per peer, growing delay per user name.

Every test drives the throttle with a fake clock: the time is the `now`
argument, so lock-outs, delays and forgetting are exact numbers.
"""

from __future__ import annotations

from gateway.opcua.guards import LoginThrottle, LoginVerdict, ServerLimits
from gateway.opcua.guards.throttle import UNKNOWN_USER

#: Small numbers so every step of the rules shows.
LIMITS = ServerLimits(
    free_failures_per_peer=3,
    first_lockout=10.0,
    max_lockout=40.0,
    free_failures_per_user=2,
    first_delay=0.25,
    max_delay=1.0,
    failure_memory=100.0,
    max_tracked_logins=1_000,
)
ATTACKER = "10.0.0.66"
OPERATOR_HOST = "10.0.0.5"


def _fail_from(throttle: LoginThrottle, peer: str, times: list[float]) -> int:
    """Failures from `peer`, each for a different user name (no user reaches its delay)."""
    count = 0
    for index, now in enumerate(times):
        count = throttle.failed(f"user{index}", peer, now)
    return count


def test_free_failures_then_the_peer_is_locked_out_for_the_first_lockout() -> None:
    throttle = LoginThrottle(LIMITS)
    assert _fail_from(throttle, ATTACKER, [0.0, 1.0]) == 2
    assert throttle.verdict("op", ATTACKER, 1.0) == LoginVerdict(locked_for=0.0, delay=0.0)
    assert throttle.failed("user9", ATTACKER, 2.0) == 3  # the last free failure
    locked = throttle.verdict("op", ATTACKER, 2.0)
    assert locked.refused
    assert locked.locked_for == 10.0
    assert throttle.verdict("op", ATTACKER, 11.5).locked_for == 0.5
    after = throttle.verdict("op", ATTACKER, 12.0)
    assert not after.refused
    assert after.locked_for == 0.0


def test_a_locked_out_peer_does_not_lock_out_another_address() -> None:
    throttle = LoginThrottle(LIMITS)
    _fail_from(throttle, ATTACKER, [0.0, 0.0, 0.0])
    assert throttle.verdict("op", ATTACKER, 1.0).refused
    assert throttle.verdict("op", OPERATOR_HOST, 1.0) == LoginVerdict(0.0, 0.0)


def test_each_further_failure_doubles_the_lockout_up_to_the_max() -> None:
    throttle = LoginThrottle(LIMITS)
    _fail_from(throttle, ATTACKER, [0.0, 0.0, 0.0])
    lockouts = []
    now = 0.0
    for _ in range(5):
        lockouts.append(throttle.verdict("op", ATTACKER, now).locked_for)
        now += lockouts[-1]  # the next try comes when the lock-out ends
        throttle.failed("op", ATTACKER, now)
    assert lockouts == [10.0, 20.0, 40.0, 40.0, 40.0]


def test_the_lockout_stays_capped_after_very_many_failures() -> None:
    throttle = LoginThrottle(LIMITS)
    _fail_from(throttle, ATTACKER, [0.0] * 500)
    assert throttle.verdict("op", ATTACKER, 0.0).locked_for == LIMITS.max_lockout


def test_an_attempt_during_the_lockout_is_refused_and_counted() -> None:
    """The adapter refuses it unchecked and counts it (session_services._password_login):
    hammering a locked-out peer only lengthens its lock-out."""
    throttle = LoginThrottle(LIMITS)
    _fail_from(throttle, ATTACKER, [0.0, 1.0, 2.0])  # locked until 12
    verdict = throttle.verdict("op", ATTACKER, 5.0)
    assert verdict.refused
    assert throttle.failed("op", ATTACKER, 5.0) == 4
    longer = throttle.verdict("op", ATTACKER, 5.0)
    assert longer.locked_for == 20.0  # from the refused attempt, doubled
    assert throttle.verdict("op", ATTACKER, 24.9).refused
    assert not throttle.verdict("op", ATTACKER, 25.0).refused


def test_failures_for_one_user_delay_it_growing_to_the_cap_from_any_address() -> None:
    """Guesses spread over many addresses slow the user name down, never lock it out."""
    throttle = LoginThrottle(LIMITS)
    delays = []
    for attempt in range(6):
        peer = f"10.1.0.{attempt}"  # never the peer's third failure
        throttle.failed("op", peer, float(attempt))
        delays.append(throttle.verdict("op", OPERATOR_HOST, float(attempt)))
    assert [v.delay for v in delays] == [0.0, 0.25, 0.5, 1.0, 1.0, 1.0]
    assert not any(v.refused for v in delays)
    assert throttle.verdict("view", OPERATOR_HOST, 6.0).delay == 0.0  # another user: no delay


def test_a_success_clears_the_users_and_the_peers_failures() -> None:
    throttle = LoginThrottle(LIMITS)
    for now in (0.0, 1.0, 2.0):
        throttle.failed("op", OPERATOR_HOST, now)
    before = throttle.verdict("op", OPERATOR_HOST, 2.0)
    assert before.refused
    assert before.delay == 0.5
    throttle.succeeded("op", OPERATOR_HOST)
    assert throttle.verdict("op", OPERATOR_HOST, 2.0) == LoginVerdict(0.0, 0.0)
    assert throttle.failed("op", OPERATOR_HOST, 3.0) == 1  # counting starts over


def test_a_success_clears_only_its_own_user_and_peer() -> None:
    throttle = LoginThrottle(LIMITS)
    for now in (0.0, 1.0, 2.0):
        throttle.failed("op", ATTACKER, now)
        throttle.failed("view", OPERATOR_HOST, now)
    throttle.succeeded("view", OPERATOR_HOST)
    assert throttle.verdict("op", ATTACKER, 2.0).refused
    assert throttle.verdict("op", OPERATOR_HOST, 2.0).delay == 0.5
    assert throttle.verdict("view", OPERATOR_HOST, 2.0) == LoginVerdict(0.0, 0.0)


def test_failures_are_forgotten_after_failure_memory_without_a_new_one() -> None:
    throttle = LoginThrottle(LIMITS)
    for now in (0.0, 1.0, 2.0):
        throttle.failed("op", ATTACKER, now)
    # Still remembered exactly failure_memory after the last failure (delay still on).
    assert throttle.verdict("op", ATTACKER, 102.0).delay == 0.5
    forgotten = throttle.verdict("op", ATTACKER, 102.5)
    assert forgotten == LoginVerdict(0.0, 0.0)
    assert throttle.failed("op", ATTACKER, 103.0) == 1


def test_a_new_failure_keeps_the_memory_alive() -> None:
    throttle = LoginThrottle(LIMITS)
    throttle.failed("op", ATTACKER, 0.0)
    throttle.failed("op", ATTACKER, 90.0)
    assert throttle.failed("op", ATTACKER, 180.0) == 3  # each within 100 s of the one before


def test_unknown_user_names_share_one_bucket() -> None:
    """The adapter counts every name that is not configured as UNKNOWN_USER: guesses at
    invented names slow down every invented name, never a real user."""
    throttle = LoginThrottle(LIMITS)
    for attempt in range(3):
        throttle.failed(UNKNOWN_USER, f"10.2.0.{attempt}", float(attempt))
    assert throttle.verdict(UNKNOWN_USER, OPERATOR_HOST, 3.0).delay == 0.5
    assert throttle.verdict("op", OPERATOR_HOST, 3.0) == LoginVerdict(0.0, 0.0)


def test_the_table_forgets_its_least_recent_entries_beyond_max_tracked_logins() -> None:
    limits = ServerLimits(
        free_failures_per_peer=1,
        first_lockout=1_000.0,
        max_lockout=1_000.0,
        free_failures_per_user=1,
        first_delay=1.0,
        max_delay=1.0,
        failure_memory=10_000.0,
        max_tracked_logins=2,
    )
    throttle = LoginThrottle(limits)
    throttle.failed("a", "peer-a", 0.0)
    throttle.failed("b", "peer-b", 1.0)
    throttle.failed("a", "peer-a", 2.0)  # a is the most recent again
    throttle.failed("c", "peer-c", 3.0)  # pushes out b, the least recent
    assert not throttle.verdict("b", "peer-b", 4.0).refused
    assert throttle.verdict("b", "peer-b", 4.0).delay == 0.0
    for name in ("a", "c"):
        kept = throttle.verdict(name, f"peer-{name}", 4.0)
        assert kept.refused
        assert kept.delay == 1.0
    # A flood of new peers and names still leaves two entries each: the newest ones.
    for index in range(100):
        throttle.failed(f"u{index}", f"p{index}", 5.0 + index)
    assert not throttle.verdict("a", "peer-a", 200.0).refused
    assert throttle.verdict("u99", "p99", 200.0).refused
    assert throttle.verdict("u98", "p98", 200.0).delay == 1.0
    assert throttle.verdict("u97", "p97", 200.0) == LoginVerdict(0.0, 0.0)
