"""`browse`: the address space below a node as a tree of plain records.

The tree is browsed level by level (one Browse call per level, one Read for
every value at the end) so a gateway with thousands of tags takes a few
round trips, not one per node. Properties of variables (EngineeringUnits,
EURange...) are not listed as children: the unit is shown with the value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua

from gateway.errors import ClientError
from gateway.ua.wire import AttributeIds, ObjectIds, node_id
from gateway.uaclient.operations import read_attributes, unknown_node
from gateway.uaclient.session import Session
from gateway.uaclient.uanames import format_value, status_name
from gateway.uaclient.units import implied_unit

__all__ = ["BrowsedNode", "browse", "default_root", "gateway_tags"]

#: Nodes per Browse or Read request (keeps each message small).
BATCH = 1000
_A = AttributeIds
_VARIABLE = ua.NodeClass.Variable
_NODE_ID: Any = ua.NodeId
_HAS_PROPERTY = node_id(ObjectIds.HasProperty)


@dataclass(slots=True)
class BrowsedNode:
    """One node of the tree; value, status and unit are text, set for variables only."""

    node_id: ua.NodeId
    name: str
    node_class: str
    text: str = ""
    value: str = ""
    status: str = ""
    unit: str = ""
    more: bool = False  # has children beyond --depth
    children: list[BrowsedNode] = field(default_factory=list)
    unit_node: ua.NodeId | None = None

    @property
    def is_variable(self) -> bool:
        return self.node_class == _VARIABLE.name

    def walk(self, depth: int = 0) -> Iterator[tuple[int, BrowsedNode]]:
        """Depth-first, in browse order: (depth, node)."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


async def default_root(session: Session) -> ua.NodeId:
    """The gateway's root object (the Objects child in its namespace), else Objects."""
    objects = node_id(ObjectIds.ObjectsFolder)
    [children] = await _children(session, [objects])
    for ref in children:
        if ref.NodeId.NamespaceIndex == session.gateway_namespace:
            return _plain(ref.NodeId)
    return objects


async def browse(session: Session, root: ua.NodeId, depth: int) -> BrowsedNode:
    """The tree below `root`, `depth` levels deep, with every variable's value read."""
    name, node_class = await read_attributes(session, [(root, _A.BrowseName), (root, _A.NodeClass)])
    if name.StatusCode is not None and not name.StatusCode.is_good():
        raise ClientError(unknown_node(session, session.text(root), int(name.StatusCode.value)))
    tree = BrowsedNode(
        root,
        _name(name.Value.Value if name.Value else None),
        ua.NodeClass(node_class.Value.Value).name if node_class.Value else "?",
        session.text(root),
    )
    seen = {root}
    level = [tree]
    for current in range(depth + 1):
        found = await _children(session, [node.node_id for node in level])
        next_level: list[BrowsedNode] = []
        for parent, references in zip(level, found, strict=True):
            for ref in references:
                child_id = _plain(ref.NodeId)
                if parent.is_variable and ref.ReferenceTypeId == _HAS_PROPERTY:
                    if ref.BrowseName.Name == "EngineeringUnits":
                        parent.unit_node = child_id
                    continue
                if current == depth:
                    parent.more = True
                    continue
                if child_id in seen:
                    continue
                seen.add(child_id)
                child = BrowsedNode(
                    child_id, _name(ref.BrowseName), ref.NodeClass.name, session.text(child_id)
                )
                parent.children.append(child)
                next_level.append(child)
        level = next_level
        if not level:
            break
    await _read_values(session, [node for _, node in tree.walk() if node.is_variable])
    return tree


async def gateway_tags(session: Session) -> list[ua.NodeId]:
    """Every tag variable of every device, once (the nodes `watch` follows by default).

    A device also references the input tag of each of its alarms as an event
    source (HasEventSource, a hierarchical reference): without the dedupe an
    alarm's input would be watched, and printed, twice.
    """
    root = await default_root(session)
    [children] = await _children(session, [root])
    devices_folder = next((r for r in children if r.BrowseName.Name == "Devices"), None)
    if devices_folder is None:
        return []
    [devices] = await _children(session, [_plain(devices_folder.NodeId)])
    tags = await _children(session, [_plain(device.NodeId) for device in devices])
    found = (_plain(ref.NodeId) for refs in tags for ref in refs if ref.NodeClass == _VARIABLE)
    return list(dict.fromkeys(found))


async def _read_values(session: Session, variables: Sequence[BrowsedNode]) -> None:
    with_units = [node for node in variables if node.unit_node is not None]
    requests = [(node.node_id, _A.Value) for node in variables]
    requests += [(node.unit_node, _A.Value) for node in with_units if node.unit_node]
    values: list[ua.DataValue] = []
    for start in range(0, len(requests), BATCH):
        values += await read_attributes(session, requests[start : start + BATCH])
    for node, value in zip(variables, values, strict=False):
        variant = value.Value.VariantType if value.Value is not None else None
        node.value = format_value(value.Value.Value if value.Value else None, variant)
        code = value.StatusCode
        node.status = status_name(int(code.value) if code is not None else 0)
    for node, unit in zip(with_units, values[len(variables) :], strict=False):
        node.unit = format_value(unit.Value.Value if unit.Value else None)
    for node in variables:
        if node.unit_node is None:
            node.unit = implied_unit(session, node.node_id)  # ResponseTime: ms


async def _children(session: Session, nodes: Sequence[ua.NodeId]) -> list[list[Any]]:
    """Forward hierarchical references of each node (ReferenceDescriptions)."""
    found: list[list[Any]] = []
    for start in range(0, len(nodes), BATCH):
        params = ua.BrowseParameters()
        params.NodesToBrowse = [_description(node) for node in nodes[start : start + BATCH]]
        results = await session.client.uaclient.browse(params)
        for result in results:
            references = list(result.References)
            continuation = result.ContinuationPoint
            while continuation:
                more = ua.BrowseNextParameters()
                more.ContinuationPoints = [continuation]
                [page] = await session.client.uaclient.browse_next(more)
                references += page.References
                continuation = page.ContinuationPoint
            found.append(references)
    return found


def _description(node: ua.NodeId) -> ua.BrowseDescription:
    description = ua.BrowseDescription()
    description.NodeId = node
    description.BrowseDirection = ua.BrowseDirection.Forward
    description.ReferenceTypeId = node_id(ObjectIds.HierarchicalReferences)
    description.IncludeSubtypes = True
    description.NodeClassMask = 0
    description.ResultMask = int(ua.BrowseResultMask.All)
    return description


def _plain(node: Any) -> ua.NodeId:
    """An ExpandedNodeId of this server as a plain NodeId (hashable, comparable)."""
    plain: ua.NodeId = _NODE_ID(node.Identifier, node.NamespaceIndex, node.NodeIdType)
    return plain


def _name(name: Any) -> str:
    return str(name.Name) if isinstance(name, ua.QualifiedName) else str(name)
