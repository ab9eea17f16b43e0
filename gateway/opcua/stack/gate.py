"""The adapter's one version gate, and the asyncua internals it relies on.

The adapter (this package) builds the gateway's OPC UA server from asyncua
2.1's address space, services and secure-channel code, with its own
transport, sessions, service dispatch and guards on top. `INTERNALS` names
every asyncua class, method or function whose private behaviour the adapter
depends on (it subclasses, calls or reproduces it, or touches an underscore
attribute it defines); tests/unit/test_opcua_stack_gate.py fingerprints each
one's source and names the one that changed after an upgrade.
"""

from __future__ import annotations

import os
from importlib.metadata import version

from gateway.errors import GatewayError

__all__ = ["ASYNCUA_SERIES", "FAST", "INSTALLED", "INTERNALS", "SUPPORTED", "check_version"]

#: The asyncua release series the adapter is written for (pyproject.toml pins it).
ASYNCUA_SERIES = "2.1."
INSTALLED = version("asyncua")
SUPPORTED = INSTALLED.startswith(ASYNCUA_SERIES)
#: The data-change fast path (monitored.py); GATEWAY_OPCUA_FASTPATH=0 measures without it.
FAST = SUPPORTED and os.environ.get("GATEWAY_OPCUA_FASTPATH", "1") != "0"

#: "module:qualified.name" of every asyncua internal the adapter relies on.
INTERNALS: tuple[str, ...] = (
    # server set-up: endpoints and security policy factories (server.py)
    "asyncua.server.server:Server.__init__",
    "asyncua.server.server:Server._setup_server_nodes",
    "asyncua.server.server:Server._set_endpoints",
    "asyncua.server.internal_server:InternalServer.__init__",
    # imports the standard address space's modules each time, which lets server.py drop them
    "asyncua.server.internal_server:InternalServer.load_standard_address_space",
    "asyncua.server.internal_server:InternalServer.start",
    "asyncua.server.internal_server:InternalServer.stop",
    "asyncua.server.internal_server:InternalServer.get_endpoints",
    "asyncua.server.internal_server:InternalServer.find_servers",
    "asyncua.server.internal_server:InternalServer.decrypt_user_token",
    # the secure channel: chunks, crypto, limits (connection.py)
    "asyncua.common.connection:SecureConnection.__init__",
    "asyncua.common.connection:SecureConnection.receive_from_header_and_body",
    "asyncua.common.connection:SecureConnection._receive",
    "asyncua.common.connection:SecureConnection.select_policy",
    "asyncua.common.connection:SecureConnection.open",
    "asyncua.common.connection:SecureConnection.message_to_binary",
    "asyncua.common.connection:TransportLimits.create_acknowledge_and_set_limits",
    "asyncua.crypto.security_policies:SecurityPolicyNone.__init__",
    "asyncua.crypto.security_policies:SecurityPolicyFactory.create",
    # asyncua's request processing, which connection.py and *_services.py replace
    "asyncua.server.uaprocessor:UaProcessor._process_message",
    "asyncua.server.binary_server_asyncio:OPCUAProtocol.data_received",
    # subscriptions and their publishing (subscriptions.py, subscription_services.py)
    "asyncua.server.subscription_service:SubscriptionService.__init__",
    "asyncua.server.subscription_service:SubscriptionService.trigger_event",
    "asyncua.server.internal_subscription:InternalSubscription.__init__",
    "asyncua.server.internal_subscription:InternalSubscription.start",
    "asyncua.server.internal_subscription:InternalSubscription.stop",
    "asyncua.server.internal_subscription:InternalSubscription.set_publishing_mode",
    "asyncua.server.internal_subscription:InternalSubscription.publish_results",
    "asyncua.server.internal_subscription:InternalSubscription.has_published_results",
    "asyncua.server.internal_subscription:InternalSubscription._pop_publish_result",
    "asyncua.server.internal_subscription:InternalSubscription._pop_triggered_datachanges",
    "asyncua.server.internal_subscription:InternalSubscription._enqueue_event",
    "asyncua.server.internal_subscription:InternalSubscription._trigger_publish",
    "asyncua.server.internal_subscription:InternalSubscription.republish",
    # monitored items and the data-change fast path (monitored.py)
    "asyncua.server.monitored_item_service:MonitoredItemService.__init__",
    "asyncua.server.monitored_item_service:MonitoredItemService._make_monitored_item_common",
    "asyncua.server.monitored_item_service:MonitoredItemService._revise_queue_size",
    "asyncua.server.monitored_item_service:MonitoredItemService._create_events_monitored_item",
    "asyncua.server.monitored_item_service:MonitoredItemService._create_data_change_monitored_item",
    "asyncua.server.monitored_item_service:MonitoredItemService.trigger_datachange",
    "asyncua.server.monitored_item_service:MonitoredItemService.datachange_callback",
    "asyncua.server.monitored_item_service:MonitoredItemService._is_data_changed",
    "asyncua.server.monitored_item_service:MonitoredItemService._is_deadband_exceeded",
    "asyncua.server.monitored_item_service:MonitoredItemService.trigger_event",
    "asyncua.server.monitored_item_service:MonitoredItemService._trigger_event",
    "asyncua.server.monitored_item_service:MonitoredItemService.set_monitoring_mode",
    "asyncua.server.monitored_item_service:MonitoredItemData.__init__",
    "asyncua.server.monitored_item_service:MonitoredItemValues.set_current_datavalue",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator.__init__",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator.eval",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator._eval_el",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator._eval_op",
    "asyncua.common.events:Event.__init__",
    "asyncua.common.events:Event.add_property",
    # the address space written in bulk (nodes.py, tree.py) and served (services.py)
    "asyncua.server.address_space:NodeData.__init__",
    "asyncua.server.address_space:AttributeValue.__init__",
    "asyncua.server.address_space:AddressSpace.__setitem__",
    "asyncua.server.address_space:AddressSpace.read_attribute_value",
    "asyncua.server.address_space:AddressSpace.add_datachange_callback",
    "asyncua.server.address_space:AddressSpace.delete_datachange_callback",
    "asyncua.server.address_space:AttributeService.read",
    "asyncua.server.address_space:AddressSpace.get",
    "asyncua.server.address_space:ViewService.translate_browsepaths_to_nodeids",
    "asyncua.server.address_space:MethodService.call",
    # the standard address space read from a file (shelf.py): Server.init runs
    # InternalServer.init, whose first step (load_standard_address_space) is replaced;
    # the AddressSpace reaches its nodes only through `_nodes` ([], get, in, del, keys),
    # which shelf.ShelvedNodes replaces as asyncua's own load_aspace_shelf does
    "asyncua.server.server:Server.init",
    "asyncua.server.internal_server:InternalServer.init",
    "asyncua.server.address_space:AddressSpace",
    # variables' property nodes made on demand (properties.py): VariableNode subclasses
    # NodeData and makes `references` a property; TranslateBrowsePaths finds a node with
    # `in` and `[]` and reads its `references`, Read and Browse with `get`
    "asyncua.server.address_space:NodeData",
    "asyncua.server.address_space:ViewService._translate_browsepath_to_nodeid",
    "asyncua.server.address_space:ViewService._find_elements_in_node",
)


def check_version() -> None:
    """Refuse to serve OPC UA on an asyncua the adapter was not written for."""
    if not SUPPORTED:
        raise GatewayError(
            f"asyncua {INSTALLED} is installed, but the gateway's OPC UA server is built for "
            f"asyncua {ASYNCUA_SERIES}x: install a matching release "
            "(pip install 'asyncua>=2.1,<2.2')"
        )
