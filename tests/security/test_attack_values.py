"""Issue 14, finding 8: values that break whole Reads of `gateway run`.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more). The gateway here
also has a device that never answers (a port that accepts connections and
never replies) and an alarm that is active from the start and never
acknowledged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua
from attackkit import GATEWAY_NAME, MODES, Gateway, Identity, running_gateway
from healthkit import healthy
from plcpool import PlcPool
from uaclients import NS, legit_client, low_privilege_client, node
from uarequests import call, read_values

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

READER = "127.0.0.18"
#: Bounds of the browse: deeper or larger than this is a runaway tree.
MAX_DEPTH = 12
MAX_NODES = 5000
ATTRIBUTES = list(ua.AttributeIds)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=MODES)
async def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    identity: Identity,
    plcs: PlcPool,
) -> AsyncIterator[Gateway]:
    """This module's gateway: with a dead device and an unacknowledged alarm."""
    folder = tmp_path_factory.mktemp(f"values-{request.param}")
    async with running_gateway(request.param, folder, identity, plcs.take(), dead=True) as running:
        yield running


async def test_a_never_polled_time_reads_as_a_null_date(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 8: `dead._Status.LastPollTime` of a device that never answered.

    Required: the Read is Good and its value a DateTime (the OPC UA null
    DateTime, 1601-01-01, which asyncua decodes as datetime(1601, 1, 1)),
    not a Bad_InternalError for the whole Read.
    """
    async with healthy(gateway, identity), legit_client(gateway, identity) as client:
        outcome = await read_values(client, ["dead._Status.LastPollTime", "dead._Status.State"])
        assert outcome.status.is_good(), f"the whole Read: {outcome.status.name}"
        last_poll, state = outcome.results
        assert state.Value.Value != "ok", "the dead device answered"
        assert last_poll.StatusCode.is_good(), last_poll.StatusCode.name
        assert isinstance(last_poll.Value.Value, dt.datetime), last_poll.Value


async def _tree(client: Client) -> list[ua.NodeId]:
    """Every node of the gateway's namespace below Objects/<gateway>, the root included."""
    root = node(GATEWAY_NAME)
    found, frontier, seen = [root], [root], {root}
    for _ in range(MAX_DEPTH):
        if not frontier:
            return found
        descriptions = [
            ua.BrowseDescription(
                NodeId=parent,
                BrowseDirection=ua.BrowseDirection.Forward,
                ReferenceTypeId=ua.NodeId(ua.ObjectIds.HierarchicalReferences),
                IncludeSubtypes=True,
                NodeClassMask=0,
                ResultMask=ua.BrowseResultMask.All,
            )
            for parent in frontier
        ]
        request = ua.BrowseRequest(
            Parameters=ua.BrowseParameters(
                NodesToBrowse=descriptions, RequestedMaxReferencesPerNode=0
            )
        )
        outcome = await call(client, request, ua.BrowseResponse, timeout=10)
        assert outcome.status.is_good(), f"Browse: {outcome.status.name}"
        frontier = []
        for result in outcome.results:
            assert not result.ContinuationPoint, "a browse result was cut short"
            for reference in result.References:
                child = reference.NodeId
                if child.NamespaceIndex == NS and child not in seen:
                    seen.add(child)
                    found.append(child)
                    frontier.append(child)
        assert len(found) <= MAX_NODES, f"more than {MAX_NODES} nodes below the gateway"
    pytest.fail(f"the tree below the gateway is deeper than {MAX_DEPTH}")


async def test_one_read_of_every_attribute_of_every_node(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 8: one Read of every attribute (Value and every other attribute id) of
    every node in the gateway's namespace (the whole tree under Objects/<gateway>:
    devices, tags, `_Status`, the Alarms folder and the condition of an alarm
    active since the start and never acknowledged), by a low-privilege
    client (anonymous in the demo, the viewer in the secure configuration).

    Required: the Read succeeds and no result is Bad_InternalError (one node
    that cannot be encoded must never fail a Read of many).
    """
    async with (
        healthy(gateway, identity),
        low_privilege_client(gateway, identity, source=READER) as client,
    ):
        nodes = await _tree(client)
        keys = {node_id.Identifier for node_id in nodes}
        assert {"dead._Status.LastPollTime", "Alarms.setpoint_low"} <= keys, sorted(keys)
        items = [
            ua.ReadValueId(NodeId=node_id, AttributeId=attribute)
            for node_id in nodes
            for attribute in ATTRIBUTES
        ]
        request = ua.ReadRequest(Parameters=ua.ReadParameters(NodesToRead=items))
        outcome = await call(client, request, ua.ReadResponse, timeout=20)
        assert outcome.status.is_good(), f"the whole Read of {len(items)}: {outcome.status.name}"
        internal = [
            f"{item.NodeId.Identifier}/{item.AttributeId.name}"
            for item, value in zip(items, outcome.results, strict=True)
            if value.StatusCode.value == ua.StatusCodes.BadInternalError
        ]
        assert not internal, f"Bad_InternalError for {internal}"
