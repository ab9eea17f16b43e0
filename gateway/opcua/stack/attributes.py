"""Node attributes that cost one small object per node instead of a dict.

`NodeAttributes` is a node's attribute mapping: one template dict shared by
every node with the same constant attributes, plus the node's own Value.
NodeId, BrowseName and DisplayName are derived from the string NodeId when
read (its last dot-separated part is the name), so they need no storage.
See nodes.py for why sharing is safe.

A node's own Value is a `ValueAttribute`: asyncua's `AttributeValue` with
slots and no dict of datachange callbacks until a client monitors the node
(168 → 104 bytes a tag, issue 21).
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
    "ValueAttribute",
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

    @property
    def template(self) -> Template:
        """The attributes shared with other nodes (every one but an own Value)."""
        return self._template

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


class ValueAttribute(AttributeValue):
    """A node's own Value attribute, as asyncua's `AttributeValue` but slotted.

    asyncua gives every attribute an empty dict of datachange callbacks (64
    bytes); here it is made when asyncua first asks for it (a monitored item
    being added), and `callbacks` reads it without making it (the store's
    hot path). The fields are those of `AttributeValue.__init__`, which
    gate.py fingerprints.
    """

    __slots__ = ("callbacks", "value", "value_callback", "value_setter")

    def __init__(self, value: ua.DataValue) -> None:  # no super().__init__: it would make the dict
        self.value = value
        self.value_callback = None
        self.value_setter = None
        #: The datachange callbacks by handle, None until the first is added.
        self.callbacks: dict[int, Callable[..., Any]] | None = None

    @property  # asyncua declares a plain attribute; a property reads and writes the same
    def datachange_callbacks(self) -> dict[int, Callable[..., Any]]:
        callbacks = self.callbacks
        if callbacks is None:
            callbacks = self.callbacks = {}
        return callbacks

    @datachange_callbacks.setter
    def datachange_callbacks(self, callbacks: dict[int, Callable[..., Any]]) -> None:
        self.callbacks = callbacks


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
