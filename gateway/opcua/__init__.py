"""The OPC UA server (the only place asyncua is imported).

server.py     OpcUaServer: the async context manager app.py runs
space.py      the address space of DESIGN.md §6, built in bulk (nodes.py)
nodes.py      NodeData records written straight into asyncua's AddressSpace
datatypes.py  tag data type → VariantType / DataType and value conversion
units.py      engineering units → UNECE codes (EUInformation)
publisher.py  bus values and device health → node values and subscriptions
writes.py     client writes → Acquisition.write (async), per-user access level
history.py    HistoryRead raw from a HistoryProvider (the storage layer)
alarms.py     alarm engine → condition events and nodes, Acknowledge, ConditionRefresh
conditions.py a condition per alarm (conditions_tree.py writes the nodes)
condition_events.py  alarm snapshot → condition event fields
alarm_calls.py  method calls with the calling session (Acknowledge, ConditionRefresh)
users.py      configured users and roles, anonymous
pki.py        own certificate, trusted and rejected client certificates
security.py   policies, endpoints, limits: secure defaults for asyncua
"""

from gateway.opcua.history import HistoryPage, HistoryProvider
from gateway.opcua.server import OpcUaServer

__all__ = ["HistoryPage", "HistoryProvider", "OpcUaServer"]
