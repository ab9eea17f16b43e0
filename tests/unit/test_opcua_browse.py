"""The adapter's Browse gives asyncua's results (gateway/opcua/stack/browse.py).

Checked on asyncua's whole standard address space: every node, for the
combinations of direction, reference type (with and without subtypes) and
node class mask that clients use, the same references in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Server, ua

from gateway.opcua.stack.browse import Browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

_O = ua.ObjectIds
REFERENCE_TYPES = [
    ua.NodeId(0),
    ua.NodeId(_O.References),
    ua.NodeId(_O.HierarchicalReferences),
    ua.NodeId(_O.HasComponent),
    ua.NodeId(_O.HasProperty),
    ua.NodeId(_O.HasTypeDefinition),
    ua.NodeId(_O.Organizes),
    ua.NodeId(_O.NonHierarchicalReferences),
    ua.NodeId(_O.Server),  # not a reference type: nothing matches but itself
]
DIRECTIONS = [ua.BrowseDirection.Forward, ua.BrowseDirection.Inverse, ua.BrowseDirection.Both]
MASKS = [0, int(ua.NodeClass.Object), int(ua.NodeClass.Variable | ua.NodeClass.Method)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[Server]:
    server = Server()
    await server.init()
    yield server


async def test_every_node_browses_as_asyncua_does(server: Server) -> None:
    aspace = server.iserver.aspace
    view = server.iserver.view_service
    browser = Browser(aspace)
    nodes = sorted(aspace.keys(), key=str)
    assert len(nodes) > 1000
    # Every node once with the common description, a sample with every combination.
    combinations = list(itertools.product(DIRECTIONS, REFERENCE_TYPES, [True, False], MASKS))
    checked = 0
    for index, nodeid in enumerate(nodes):
        cases = combinations if index % 97 == 0 else [combinations[len(combinations) // 3]]
        for direction, reference_type, subtypes, mask in cases:
            description = ua.BrowseDescription(
                NodeId=nodeid,
                BrowseDirection=direction,
                ReferenceTypeId=reference_type,
                IncludeSubtypes=subtypes,
                NodeClassMask=mask,
            )
            [expected] = view.browse(ua.BrowseParameters(NodesToBrowse=[description]))
            got = browser.browse(description)
            assert got.StatusCode == expected.StatusCode
            assert got.References == expected.References, (nodeid, description)
            checked += 1
    assert checked > len(nodes)


async def test_unknown_nodes_and_directions_are_refused(server: Server) -> None:
    browser = Browser(server.iserver.aspace)
    unknown = browser.browse(ua.BrowseDescription(NodeId=ua.NodeId("nowhere", 5)))
    assert unknown.StatusCode.value == ua.StatusCodes.BadNodeIdInvalid
    invalid = ua.BrowseDescription(NodeId=ua.NodeId(_O.Server), BrowseDirection=3)
    assert browser.browse(invalid).StatusCode.value == ua.StatusCodes.BadBrowseDirectionInvalid


async def test_subtype_sets_are_computed_once_and_bounded(server: Server) -> None:
    browser = Browser(server.iserver.aspace)
    hierarchical = browser.subtypes(ua.NodeId(_O.HierarchicalReferences))
    assert ua.NodeId(_O.HasComponent) in hierarchical
    assert ua.NodeId(_O.HasTypeDefinition) not in hierarchical
    assert browser.subtypes(ua.NodeId(_O.HierarchicalReferences)) is hierarchical
    for identifier in range(1000):  # reference types a client makes up
        browser.subtypes(ua.NodeId(f"made-up-{identifier}", 7))
    assert len(browser._subtypes) <= 256
