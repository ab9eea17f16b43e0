"""Which TCP connections the OPC UA server keeps (guards/admission.py), on a fake clock.

Connections are keyed by plain strings here; the adapter uses its Connection
objects. A "stranger" is a connection without an activated session.
"""

from __future__ import annotations

from gateway.opcua.guards import Admission, ConnectionTable, ServerLimits

LIMITS = ServerLimits(max_connections=4, max_connections_per_peer=2, activation_window=5.0)
A = "10.0.0.1"
B = "10.0.0.2"


def _table() -> ConnectionTable[str]:
    return ConnectionTable(LIMITS)


def test_connections_within_the_caps_are_accepted_without_pushing_anyone_out() -> None:
    table = _table()
    assert table.admit("a1", A, 0.0) == Admission(True)
    assert table.admit("a2", A, 0.0) == Admission(True)
    assert table.admit("b1", B, 0.0) == Admission(True)
    assert len(table) == 3
    assert table.keys() == ["a1", "a2", "b1"]


def test_over_the_per_peer_cap_the_most_idle_stranger_of_that_peer_goes() -> None:
    table = _table()
    table.admit("b1", B, 0.0)  # idlest of all, but another peer's
    table.admit("a1", A, 1.0)
    table.admit("a2", A, 2.0)
    table.seen("a1", 3.0)  # a2 has now been silent longest among A's
    admission = table.admit("a3", A, 4.0)
    assert admission == Admission(True, evict="a2")
    assert sorted(table.keys()) == ["a1", "a3", "b1"]


def test_over_the_total_cap_the_most_idle_stranger_anywhere_goes() -> None:
    table = _table()
    table.admit("a1", A, 0.0)
    table.admit("b1", B, 1.0)
    table.admit("c1", "10.0.0.3", 2.0)
    table.admit("d1", "10.0.0.4", 3.0)
    table.seen("a1", 5.0)
    table.seen("c1", 5.0)
    table.seen("d1", 5.0)
    admission = table.admit("e1", "10.0.0.5", 6.0)
    assert admission.accepted
    assert admission.evict == "b1"
    assert len(table) == LIMITS.max_connections
    assert sorted(table.keys()) == ["a1", "c1", "d1", "e1"]


def test_authenticated_connections_are_never_pushed_out() -> None:
    table = _table()
    table.admit("a1", A, 0.0)
    table.authenticated("a1")  # idlest, but logged in
    table.admit("a2", A, 1.0)
    table.seen("a2", 9.0)
    assert table.admit("a3", A, 10.0) == Admission(True, evict="a2")
    assert sorted(table.keys()) == ["a1", "a3"]


def test_authenticated_connections_are_kept_over_the_total_cap_too() -> None:
    table = _table()
    for index, key in enumerate(("a1", "b1", "c1", "d1")):
        table.admit(key, f"10.0.1.{index}", float(index))
    for key in ("a1", "b1", "c1"):
        table.authenticated(key)
    assert table.admit("e1", "10.0.1.9", 4.0) == Admission(True, evict="d1")


def test_refused_with_a_reason_when_only_authenticated_connections_of_the_peer_remain() -> None:
    table = _table()
    for key in ("a1", "a2"):
        table.admit(key, A, 0.0)
        table.authenticated(key)
    admission = table.admit("a3", A, 1.0)
    assert not admission.accepted
    assert admission.evict is None
    assert admission.reason == f"2 connections from {A}"
    assert table.keys() == ["a1", "a2"]  # the refused one is not recorded


def test_refused_with_a_reason_when_every_connection_is_authenticated() -> None:
    table = _table()
    for index in range(LIMITS.max_connections):
        key = f"k{index}"
        table.admit(key, f"10.0.2.{index}", 0.0)
        table.authenticated(key)
    admission = table.admit("late", "10.0.2.99", 1.0)
    assert not admission.accepted
    assert admission.evict is None
    assert admission.reason == "4 connections"
    assert len(table) == LIMITS.max_connections


def test_a_connection_whose_session_closed_is_a_stranger_again() -> None:
    table = _table()
    for key in ("a1", "a2"):
        table.admit(key, A, 0.0)
        table.authenticated(key)
    table.authenticated("a2", False)
    assert table.admit("a3", A, 1.0) == Admission(True, evict="a2")


def test_a_closed_connection_frees_its_slot() -> None:
    table = _table()
    table.admit("a1", A, 0.0)
    table.admit("a2", A, 0.0)
    table.remove("a1")
    table.remove("never-admitted")  # harmless
    assert table.admit("a3", A, 1.0) == Admission(True)
    assert sorted(table.keys()) == ["a2", "a3"]


def test_expired_lists_strangers_past_the_activation_window_since_they_opened() -> None:
    table = _table()
    table.admit("a1", A, 0.0)
    table.admit("a2", A, 2.0)
    table.admit("b1", B, 0.0)
    table.authenticated("b1")
    table.seen("a1", 4.9)  # talking does not extend the window
    assert table.expired(4.9) == []
    assert table.expired(5.0) == ["a1"]
    assert table.expired(7.0) == ["a1", "a2"]
    assert table.expired(1_000.0) == ["a1", "a2"]  # never the authenticated one


def test_updates_for_unknown_keys_are_ignored() -> None:
    table = _table()
    table.seen("ghost", 1.0)
    table.authenticated("ghost")
    assert len(table) == 0
    assert table.expired(100.0) == []
