"""What the server says it can do with history: Part 11's HistoryServerCapabilities
and Part 13's AggregateFunctions folders list exactly the aggregates computed here."""

from __future__ import annotations

from asyncua import ua

from gateway.aggregates import Aggregate
from gateway.opcua.stack import StackServer
from gateway.ua.wire import ObjectIds, node_id

__all__ = ["declare_history_capabilities"]

_O = ObjectIds
#: Both folders Part 13 §4.2.2.1 asks a historian to fill: the server's, and the history's.
_FOLDERS = (
    _O.Server_ServerCapabilities_AggregateFunctions,
    _O.HistoryServerCapabilities_AggregateFunctions,
)


async def declare_history_capabilities(server: StackServer, max_values: int) -> None:
    """Organize every supported AggregateFunction under both folders; say raw and
    processed data history are readable, and how many values one call returns."""
    tree = server.node_tree()
    for folder in _FOLDERS:
        for aggregate in Aggregate:
            target = node_id(aggregate.node_number)
            if server.has_node(target):
                tree.link(node_id(folder), _O.Organizes, target)
    facts = {
        _O.HistoryServerCapabilities_AccessHistoryDataCapability: ua.Variant(
            True, ua.VariantType.Boolean
        ),
        _O.HistoryServerCapabilities_MaxReturnDataValues: ua.Variant(
            max_values, ua.VariantType.UInt32
        ),
    }
    for node, value in facts.items():
        await server.write_value(node_id(node), ua.DataValue(value))
