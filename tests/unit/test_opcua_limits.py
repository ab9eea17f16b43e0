"""The server's bounds (guards/limits.py): scaled to the address space by `for_nodes`."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.opcua.guards import ServerLimits

DEFAULTS = ServerLimits()
SCALED_FIELDS = {
    "max_monitored_items_per_call",
    "max_monitored_items_per_subscription",
    "max_monitored_items_per_session",
    "max_monitored_items",
}


@pytest.mark.parametrize("nodes", [0, 10, 1_000, 18_181, 18_182, 100_000, 250_000])
def test_one_session_may_monitor_every_node_with_room_to_spare(nodes: int) -> None:
    limits = DEFAULTS.for_nodes(nodes)
    per_session = limits.max_monitored_items_per_session
    assert per_session >= nodes * 1.1
    assert limits.max_monitored_items_per_subscription == per_session
    assert limits.max_monitored_items_per_call >= per_session
    # Never below the defaults.
    for name in SCALED_FIELDS:
        assert getattr(limits, name) >= getattr(DEFAULTS, name), name


@pytest.mark.parametrize("nodes", [0, 1_000, 100_000, 250_000])
def test_the_server_holds_four_such_clients_and_one_identity_a_whole_one(nodes: int) -> None:
    limits = DEFAULTS.for_nodes(nodes)
    per_session = limits.max_monitored_items_per_session
    assert limits.max_monitored_items >= 4 * per_session
    identity = limits.max_monitored_items_per_identity
    assert identity == limits.max_monitored_items * 3 // 4
    assert identity >= per_session
    assert identity < limits.max_monitored_items  # one identity never takes it all


def test_a_large_address_space_scales_exactly() -> None:
    limits = DEFAULTS.for_nodes(100_000)
    assert limits.max_monitored_items_per_session in (110_000, 110_001)  # ceil of 110000.0…
    assert limits.max_monitored_items == 4 * limits.max_monitored_items_per_session


def test_a_small_address_space_keeps_the_default_bounds() -> None:
    """Only the per-call bound grows: to the per-session one (all items in one call)."""
    scaled = DEFAULTS.for_nodes(100)
    assert scaled.max_monitored_items_per_call == DEFAULTS.max_monitored_items_per_session
    unscaled = dataclasses.replace(
        scaled, max_monitored_items_per_call=DEFAULTS.max_monitored_items_per_call
    )
    assert unscaled == DEFAULTS


def test_for_nodes_changes_only_the_monitored_item_bounds() -> None:
    scaled = DEFAULTS.for_nodes(500_000)
    changed = {
        f.name
        for f in dataclasses.fields(ServerLimits)
        if getattr(scaled, f.name) != getattr(DEFAULTS, f.name)
    }
    assert changed == SCALED_FIELDS


def test_the_chunk_count_covers_the_largest_message() -> None:
    limits = DEFAULTS
    assert limits.max_chunk_count * limits.chunk_size >= limits.max_message_size
    assert (limits.max_chunk_count - 1) * limits.chunk_size < limits.max_message_size
    assert limits.max_unauthenticated_message_size <= limits.chunk_size  # one chunk
