"""Engineering units of variables as text: their EngineeringUnits property, else the gateway's.

A unit belongs next to its value wherever one is shown. Most units come from
the variable's EngineeringUnits property; the gateway's `_Status.ResponseTime`
has none, but it is documented in milliseconds (docs/opcua.md, `_Status`), so a value of
`0.9` reads `0.9 ms` and not as a bare number of unknown scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncua import ua

from gateway.ua.wire import ObjectIds, node_id
from gateway.uaclient.session import Session

__all__ = ["implied_unit", "unit_properties"]

#: Units the gateway's contract gives to variables without an EngineeringUnits property,
#: by the end of their NodeId (`<device>._Status.ResponseTime`).
_CONTRACT_UNITS = {"._Status.ResponseTime": "ms"}
_HAS_PROPERTY = node_id(ObjectIds.HasProperty)


def implied_unit(session: Session, node: ua.NodeId) -> str:
    """The unit the gateway's contract gives `node`, '' for any other node."""
    identifier = node.Identifier
    if node.NamespaceIndex != session.gateway_namespace or not isinstance(identifier, str):
        return ""
    return next((unit for end, unit in _CONTRACT_UNITS.items() if identifier.endswith(end)), "")


async def unit_properties(session: Session, nodes: Sequence[ua.NodeId]) -> list[ua.NodeId | None]:
    """Each node's EngineeringUnits property (None when it has none), in one request."""
    if not nodes:
        return []
    results = await session.client.uaclient.translate_browsepaths_to_nodeids(
        [_units_path(node) for node in nodes]
    )
    found: list[ua.NodeId | None] = []
    for result in results:
        targets = result.Targets if result.StatusCode.is_good() else []
        target = targets[0].TargetId if targets else None
        found.append(
            None
            if target is None
            else ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType)
        )
    return found


def _units_path(node: ua.NodeId) -> ua.BrowsePath:
    element: Any = ua.RelativePathElement()  # asyncua types its flags as a class Boolean
    element.ReferenceTypeId = _HAS_PROPERTY
    element.IsInverse = False
    element.IncludeSubtypes = True
    element.TargetName = ua.QualifiedName("EngineeringUnits", 0)
    path = ua.BrowsePath()
    path.StartingNode = node
    path.RelativePath = ua.RelativePath()
    path.RelativePath.Elements = [element]
    return path
