"""Node attributes that cost one small object per node instead of a dict.

`NodeAttributes` is a node's attribute mapping: one template dict shared by
every node with the same constant attributes, plus the node's own Value.
NodeId, BrowseName and DisplayName are derived from the string NodeId when
read (its last dot-separated part is the name), so they need no storage.
See nodes.py for why sharing is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from asyncua import ua
from asyncua.server.address_space import AttributeValue

from gateway.ua.wire import AttributeIds

__all__ = [
    "DISPLAY_NAME",
    "NODE_ID",
    "OWN_BROWSE_NAME",
    "STANDARD_BROWSE_NAME",
    "NodeAttributes",
    "Template",
    "name_of",
]

_A = AttributeIds
_V = ua.VariantType
Template = dict[AttributeIds, AttributeValue]


class NodeAttributes(Mapping[AttributeIds, AttributeValue]):
    """A node's attributes: a shared template plus this node's Value (if it has one).

    asyncua reads attributes with `in`, `[]` and `get`, which Mapping provides.
    """

    __slots__ = ("_template", "_value")

    def __init__(self, template: Template, value: AttributeValue | None) -> None:
        self._template = template
        self._value = value

    def __getitem__(self, attribute: AttributeIds) -> AttributeValue:
        if attribute == _A.Value and self._value is not None:
            return self._value
        return self._template[attribute]

    def __contains__(self, attribute: object) -> bool:
        return attribute in self._template or (attribute == _A.Value and self._value is not None)

    def get(self, attribute: AttributeIds, default: Any = None) -> Any:
        if attribute == _A.Value and self._value is not None:
            return self._value
        return self._template.get(attribute, default)

    def __iter__(self) -> Iterator[AttributeIds]:
        return iter(self._template)

    def __len__(self) -> int:
        return len(self._template)


def name_of(nodeid: ua.NodeId) -> str:
    """A gateway node's name: names never contain dots, so the last part of the id."""
    return str(nodeid.Identifier).rpartition(".")[2]


def _derived(build: Callable[[ua.NodeId], ua.Variant]) -> AttributeValue:
    attribute = AttributeValue(ua.DataValue())
    attribute.value = None
    attribute.value_callback = lambda nodeid, _attr: ua.DataValue(build(nodeid))
    return attribute


NODE_ID = _derived(lambda nodeid: ua.Variant(nodeid, _V.NodeId))
DISPLAY_NAME = _derived(
    lambda nodeid: ua.Variant(ua.LocalizedText(name_of(nodeid)), _V.LocalizedText)
)
OWN_BROWSE_NAME = _derived(
    lambda nodeid: ua.Variant(
        ua.QualifiedName(name_of(nodeid), nodeid.NamespaceIndex), _V.QualifiedName
    )
)
STANDARD_BROWSE_NAME = _derived(
    lambda nodeid: ua.Variant(ua.QualifiedName(name_of(nodeid), 0), _V.QualifiedName)
)
