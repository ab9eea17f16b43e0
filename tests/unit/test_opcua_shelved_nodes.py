"""The node map that reads asyncua's standard nodes from a file (gateway/opcua/stack/shelf.py).

A small file of real `NodeData` records stands for the standard address
space (tests/integration/test_opcua_shelf.py uses the real one).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.server.address_space import NodeData

from gateway.opcua.stack.shelf import ShelfPlace, ShelvedNodes

STANDARD = [ua.NodeId(85), ua.NodeId(2253), ua.NodeId(58)]


def _node(nodeid: ua.NodeId) -> NodeData:
    node = NodeData(nodeid)
    node.references.append(ua.ReferenceDescription(NodeId=ua.NodeId(84), IsForward=False))
    return node


@pytest.fixture
def nodes(tmp_path: Path) -> ShelvedNodes:
    place = ShelfPlace(tmp_path / "cache")
    own = ua.NodeId("plc.temp", 2)
    assert place.write({**{i: _node(i) for i in STANDARD}, own: _node(own)})
    opened = place.open()
    assert opened is not None
    return opened


def test_a_standard_node_is_read_once_then_kept(nodes: ShelvedNodes) -> None:
    first = nodes[ua.NodeId(85)]
    assert first.nodeid == ua.NodeId(85)
    assert first.references[0].NodeId == ua.NodeId(84)
    assert nodes.reads == 1
    first.references.append(ua.ReferenceDescription(NodeId=ua.NodeId("plc", 2)))
    assert nodes.get(ua.NodeId(85)) is first  # changed in memory, never read again
    assert ua.NodeId(85) in nodes
    assert nodes.reads == 1
    assert nodes.loaded == 1


def test_get_and_in_read_the_file_and_miss_cleanly(nodes: ShelvedNodes) -> None:
    assert ua.NodeId(2253) in nodes
    assert nodes.get(ua.NodeId(58)) is not None
    assert nodes.get(ua.NodeId(99999)) is None
    assert ua.NodeId(99999) not in nodes
    with pytest.raises(KeyError):
        nodes[ua.NodeId(99999)]
    assert nodes.loaded == 2
    assert "not a node id" not in nodes


def test_the_gateways_namespaces_never_reach_the_file(nodes: ShelvedNodes) -> None:
    own = ua.NodeId("plc.temp", 2)  # given to write(), which keeps namespace 0 only
    assert own not in nodes
    assert nodes.get(own) is None
    nodes[own] = node = _node(own)
    assert nodes[own] is node
    assert nodes.get(own) is node
    assert nodes.reads == 0


def test_a_deleted_standard_node_stays_deleted(nodes: ShelvedNodes) -> None:
    del nodes[ua.NodeId(58)]  # never read before: read, then deleted
    assert ua.NodeId(58) not in nodes
    assert nodes.get(ua.NodeId(58)) is None
    with pytest.raises(KeyError):
        del nodes[ua.NodeId(58)]
    nodes[ua.NodeId(58)] = again = _node(ua.NodeId(58))
    assert nodes[ua.NodeId(58)] is again


def test_iteration_sees_the_nodes_in_memory(nodes: ShelvedNodes) -> None:
    assert len(nodes) == 0
    nodes.get(ua.NodeId(85))
    assert list(nodes) == [ua.NodeId(85)]


def test_a_thread_asking_while_another_reads_gets_the_same_record(
    nodes: ShelvedNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second thread asks for the node while the first is inside the file's query."""
    connection = nodes._connection
    found: list[NodeData] = []
    second = threading.Thread(target=lambda: found.append(nodes[ua.NodeId(2253)]))

    class _Reading:
        """The file's connection, starting the second lookup from inside the first query."""

        def execute(self, *args: object) -> sqlite3.Cursor:
            if not second.is_alive() and not found:
                second.start()
                second.join(0.2)  # with the lock it waits for this query; without, it reads too
            return connection.execute(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(nodes, "_connection", _Reading())
    first = nodes[ua.NodeId(2253)]
    second.join()
    assert found == [first]
    assert found[0] is first
    assert nodes.loaded == 1


def test_once_closed_the_nodes_read_stay_and_no_more_are_read(nodes: ShelvedNodes) -> None:
    """The server closes the file when it stops; a late lookup finds nothing, not an error."""
    kept = nodes[ua.NodeId(85)]
    nodes.close()
    assert nodes[ua.NodeId(85)] is kept
    assert nodes.get(ua.NodeId(2253)) is None
    assert ua.NodeId(58) not in nodes
    assert nodes.reads == 1
