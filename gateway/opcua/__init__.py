"""The OPC UA server (asyncua's server only behind the adapter in stack/).

server.py     OpcUaServer: the async context manager app.py runs
security.py   endpoints, users and the trust list applied to the server
space.py      the address space of docs/opcua.md, built in bulk (stack's NodeFactory)
datatypes.py  tag data type → VariantType / DataType and value conversion
units.py      engineering units → UNECE codes (EUInformation)
publisher.py  bus values and device health → node values and subscriptions
writes.py     the write hook: client writes → Acquisition.write, per-user access level
history.py    the history hook: HistoryRead raw and at-time from a HistoryProvider
alarms.py     alarm engine → condition events and nodes, Acknowledge, ConditionRefresh
conditions.py a condition per alarm (stack's NodeTree writes the nodes)
condition_events.py  alarm snapshot → condition event fields
alarm_calls.py  the call hook: Acknowledge and ConditionRefresh with the caller
users.py      configured users and roles, anonymous: identities (pure)
pki.py        the PKI folder: own certificate, trusted and rejected client certificates
guards/       the bounds and rules that keep hostile clients in check (pure)
stack/        the adapter: asyncua's server behind our transport, sessions and guards

What the client (gateway/uaclient/) shares with the server, wire helpers and
certificates, is in gateway/ua/: importing the client loads nothing of this package.
"""

from gateway.opcua.history import HistoryPage, HistoryProvider
from gateway.opcua.server import OpcUaServer

__all__ = ["HistoryPage", "HistoryProvider", "OpcUaServer"]
