"""Browsing as an attack: one request over many big nodes, or very long browse paths.

Found after the attack suite of issue 14, in its spirit: asyncua filtered a
node's references by walking the reference type tree per reference, so one
Browse of 1,000 copies of the node with the most references (i=22, 267
references, both directions, every reference type) held the gateway's event
loop for about 20 s. Part of the attack suite: `pytest tests/security`.
"""

from __future__ import annotations

import asyncio

import pytest
from asyncua import ua
from attackkit import Gateway, Identity
from healthkit import healthy
from uaclients import low_privilege_client
from uarequests import call

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

BROWSER = "127.0.0.19"
PATHS = "127.0.0.20"
#: The standard node with the most references (Structure, 267).
BUSIEST = ua.NodeId(ua.ObjectIds.Structure)
#: Seconds the attacker keeps browsing while the healthy client reads.
ATTACK_SECONDS = 5.0


def _browse(nodes: int) -> ua.BrowseRequest:
    description = ua.BrowseDescription(
        NodeId=BUSIEST,
        BrowseDirection=ua.BrowseDirection.Both,
        ReferenceTypeId=ua.NodeId(ua.ObjectIds.References),
        IncludeSubtypes=True,
        NodeClassMask=0,
        ResultMask=63,
    )
    request = ua.BrowseRequest()
    request.Parameters.NodesToBrowse = [description] * nodes
    return request


def _translate(elements: int) -> ua.TranslateBrowsePathsToNodeIdsRequest:
    element = ua.RelativePathElement(
        ReferenceTypeId=ua.NodeId(ua.ObjectIds.HierarchicalReferences),
        IsInverse=False,
        IncludeSubtypes=True,
        TargetName=ua.QualifiedName("Objects", 0),
    )
    path = ua.BrowsePath(
        StartingNode=ua.NodeId(ua.ObjectIds.RootFolder),
        RelativePath=ua.RelativePath(Elements=[element] * elements),
    )
    request = ua.TranslateBrowsePathsToNodeIdsRequest()
    request.Parameters.BrowsePaths = [path]
    return request


async def test_big_browses_stall_nobody(gateway: Gateway, identity: Identity) -> None:
    """A viewer (anonymous in the demo) browses the busiest node as often as one request
    allows, back to back, for 5 s: every Browse is answered in full, the healthy
    client keeps reading once a second, and more nodes than the advertised
    MaxNodesPerBrowse (100) in one request are refused with Bad_TooManyOperations."""
    async with (
        healthy(gateway, identity),
        low_privilege_client(gateway, identity, source=BROWSER) as attacker,
    ):
        too_many = await call(attacker, _browse(101), ua.BrowseResponse)
        assert too_many.status.value == ua.StatusCodes.BadTooManyOperations, too_many.status
        answered = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + ATTACK_SECONDS
        while loop.time() < until:
            outcome = await call(attacker, _browse(100), ua.BrowseResponse, timeout=30)
            assert outcome.status.is_good(), outcome.status
            assert len(outcome.results) == 100
            assert all(len(r.References) > 200 for r in outcome.results)
            answered += 1
        assert answered >= 1


async def test_long_browse_paths_are_refused(gateway: Gateway, identity: Identity) -> None:
    """TranslateBrowsePathsToNodeIds: a path of more than 32 elements is refused whole;
    a short one still resolves."""
    async with low_privilege_client(gateway, identity, source=PATHS) as attacker:
        long = await call(attacker, _translate(33), ua.TranslateBrowsePathsToNodeIdsResponse)
        assert long.status.value == ua.StatusCodes.BadTooManyOperations, long.status
        short = await call(attacker, _translate(1), ua.TranslateBrowsePathsToNodeIdsResponse)
        assert short.status.is_good(), short.status
        [result] = short.results
        assert result.StatusCode.is_good()
        assert result.Targets[0].TargetId == ua.NodeId(ua.ObjectIds.ObjectsFolder)
