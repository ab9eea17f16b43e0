"""The OPC UA stack adapter: the only place that imports asyncua.server or touches
asyncua's private names (tests/unit/test_opcua_boundary.py checks it).

    server.py               StackServer: building, securing and `serving()` one server
    hooks.py                what the gateway plugs in: write, call, history, user access
    connection.py           one TCP connection: admission, framing, secure channel, requests
    framing.py              chunk headers checked before bodies are buffered (pure)
    services.py             service dispatch; attribute, view, method, history services
    session_services.py     CreateSession, ActivateSession, CloseSession, discovery
    subscription_services.py  subscriptions, monitored items, Publish
    sessions.py             sessions: random tokens, bound to a connection, bounded
    publishing.py           a session's Publish requests
    subscriptions.py        subscriptions owned by sessions, clamped and bounded
    monitored.py            monitored items (linear, bounded) and the data-change fast path
    filters.py              event and data-change filters checked before use
    events.py               alarm events and ConditionRefresh into subscriptions
    nodes.py, attributes.py the gateway's nodes written in bulk, attributes shared
    properties.py           variables' property nodes made on demand; the node map
    tree.py                 condition nodes written in bulk
    shelf.py                asyncua's standard address space read from a file, not memory
    context.py              what the connections of one server share
    gate.py                 the asyncua version gate and the internals relied on

The rest of gateway/opcua/ sees a small typed interface: `StackServer` (with
its `events`, `node_factory()`, `node_tree()`, `write_value()`), `Hooks` and
`Caller`, `store` (a new value into a node and its monitored items), and the
node-building types below. The rules it enforces live in gateway/opcua/guards/.
"""

from asyncua.server.address_space import AttributeValue as ValueSlot
from asyncua.server.address_space import NodeData as Node

from gateway.opcua.stack.events import EventSink, EventTarget, Fields
from gateway.opcua.stack.gate import ASYNCUA_SERIES, check_version
from gateway.opcua.stack.hooks import Caller, Hooks, ServerStats, ServiceFault
from gateway.opcua.stack.monitored import store
from gateway.opcua.stack.nodes import NodeFactory, Ref
from gateway.opcua.stack.server import StackServer
from gateway.opcua.stack.shelf import default_directory as standard_space_directory
from gateway.opcua.stack.tree import OBJECT, Constant, NodeTree

__all__ = [
    "ASYNCUA_SERIES",
    "OBJECT",
    "Caller",
    "Constant",
    "EventSink",
    "EventTarget",
    "Fields",
    "Hooks",
    "Node",
    "NodeFactory",
    "NodeTree",
    "Ref",
    "ServerStats",
    "ServiceFault",
    "StackServer",
    "ValueSlot",
    "check_version",
    "standard_space_directory",
    "store",
]
