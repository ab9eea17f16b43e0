"""The asyncua adapter's version gate and the fingerprint of every internal it relies on.

gateway/opcua/stack/gate.py lists each asyncua class, method or function
whose private behaviour the adapter depends on. When an upgrade changes one,
`test_asyncua_internals_are_unchanged[<name>]` fails and names it: re-read
that code, adapt the adapter module that relies on it (the comment in
gate.INTERNALS says which), then update its digest here.
"""

# ruff: noqa: E501 - the table lists asyncua's qualified names, one per line

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib.metadata import version
from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.opcua.stack import gate

#: sha256 (first 16 hex digits) of each internal's source in asyncua 2.1.0.
DIGESTS: dict[str, str] = {
    "asyncua.server.server:Server.__init__": "9b02f17cb57f46c0",
    "asyncua.server.server:Server._setup_server_nodes": "826966d73e4c34c2",
    "asyncua.server.server:Server._set_endpoints": "0b382705316f8d3e",
    "asyncua.server.internal_server:InternalServer.__init__": "9a151b9f9c85021d",
    "asyncua.server.internal_server:InternalServer.load_standard_address_space": "5702969329790daf",
    "asyncua.server.internal_server:InternalServer.start": "46457dca494d2a1f",
    "asyncua.server.internal_server:InternalServer.stop": "1f47ced4d372bb48",
    "asyncua.server.internal_server:InternalServer.get_endpoints": "d59ebe6fc0409b1e",
    "asyncua.server.internal_server:InternalServer.find_servers": "6c06d17102753034",
    "asyncua.server.internal_server:InternalServer.decrypt_user_token": "3f4ac207891e1cfd",
    "asyncua.common.connection:SecureConnection.__init__": "0674abc2a5b86083",
    "asyncua.common.connection:SecureConnection.receive_from_header_and_body": "d4468ec7bf0cdd2f",
    "asyncua.common.connection:SecureConnection._receive": "e24031f2ed2f65f6",
    "asyncua.common.connection:SecureConnection.select_policy": "516345b8a03ec75b",
    "asyncua.common.connection:SecureConnection.open": "a5e9ac742db76661",
    "asyncua.common.connection:SecureConnection.message_to_binary": "dca1c22c70916ad9",
    "asyncua.common.connection:TransportLimits.create_acknowledge_and_set_limits": "3961625b1a15988d",
    "asyncua.crypto.security_policies:SecurityPolicyNone.__init__": "494370323f17b61d",
    "asyncua.crypto.security_policies:SecurityPolicyFactory.create": "e107f3f597a80f68",
    "asyncua.server.uaprocessor:UaProcessor._process_message": "029ff357dd3bdd16",
    "asyncua.server.binary_server_asyncio:OPCUAProtocol.data_received": "bacb98f07f0b63ff",
    "asyncua.server.subscription_service:SubscriptionService.__init__": "4a6bf407543e2f46",
    "asyncua.server.subscription_service:SubscriptionService.trigger_event": "3778f0774f818f78",
    "asyncua.server.internal_subscription:InternalSubscription.__init__": "7167eafec56f9020",
    "asyncua.server.internal_subscription:InternalSubscription.start": "539f10e9fd4ea38f",
    "asyncua.server.internal_subscription:InternalSubscription.stop": "f8d1e220cc06ec07",
    "asyncua.server.internal_subscription:InternalSubscription.set_publishing_mode": "35dc33410160bad5",
    "asyncua.server.internal_subscription:InternalSubscription.publish_results": "61ce721eff3735ea",
    "asyncua.server.internal_subscription:InternalSubscription.has_published_results": "a961d140491954f7",
    "asyncua.server.internal_subscription:InternalSubscription._pop_publish_result": "69f19425a51ca326",
    "asyncua.server.internal_subscription:InternalSubscription._pop_triggered_datachanges": "a80b640757b67c29",
    "asyncua.server.internal_subscription:InternalSubscription._enqueue_event": "e69c7f033b26833b",
    "asyncua.server.internal_subscription:InternalSubscription._trigger_publish": "ef1353aab64eccc0",
    "asyncua.server.internal_subscription:InternalSubscription.republish": "b37d5d8a54e156d9",
    "asyncua.server.monitored_item_service:MonitoredItemService.__init__": "6179ce8fbf4dddb3",
    "asyncua.server.monitored_item_service:MonitoredItemService._make_monitored_item_common": "40eff4c530465161",
    "asyncua.server.monitored_item_service:MonitoredItemService._revise_queue_size": "59288a8a228a95bb",
    "asyncua.server.monitored_item_service:MonitoredItemService._create_events_monitored_item": "0484abac1e1c498d",
    "asyncua.server.monitored_item_service:MonitoredItemService._create_data_change_monitored_item": "33bdd22321c59eaa",
    "asyncua.server.monitored_item_service:MonitoredItemService.trigger_datachange": "22d2c0264f30e62b",
    "asyncua.server.monitored_item_service:MonitoredItemService.datachange_callback": "d4468698f4d16058",
    "asyncua.server.monitored_item_service:MonitoredItemService._is_data_changed": "57a0bdefa822c5a7",
    "asyncua.server.monitored_item_service:MonitoredItemService._is_deadband_exceeded": "fb9fddc7656a226a",
    "asyncua.server.monitored_item_service:MonitoredItemService.trigger_event": "a8e21258820da3f0",
    "asyncua.server.monitored_item_service:MonitoredItemService._trigger_event": "aa8e40f382451854",
    "asyncua.server.monitored_item_service:MonitoredItemService.set_monitoring_mode": "3d257c965bb81859",
    "asyncua.server.monitored_item_service:MonitoredItemData.__init__": "fdb383c82ecbe4d6",
    "asyncua.server.monitored_item_service:MonitoredItemValues.set_current_datavalue": "df9d5e87226514b2",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator.__init__": "df7d261fef0fa126",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator.eval": "a69374f045fda629",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator._eval_el": "e87aee4a1045c13c",
    "asyncua.server.monitored_item_service:WhereClauseEvaluator._eval_op": "08df7ae98ab7231c",
    "asyncua.common.events:Event.__init__": "484330d6d037e423",
    "asyncua.common.events:Event.add_property": "00490d99c37840d3",
    "asyncua.server.address_space:NodeData.__init__": "e6f7bc4bef423f6b",
    "asyncua.server.address_space:AttributeValue.__init__": "2d9ac6868195e11f",
    "asyncua.server.address_space:AddressSpace.__setitem__": "d5dae2569b47376a",
    "asyncua.server.address_space:AddressSpace.read_attribute_value": "836c43c0cc2d4b01",
    "asyncua.server.address_space:AddressSpace.add_datachange_callback": "afb2b5eeec48d332",
    "asyncua.server.address_space:AddressSpace.delete_datachange_callback": "f1b970017dd74657",
    "asyncua.server.address_space:AddressSpace.get": "abea36924fed4a33",
    "asyncua.server.address_space:AttributeService.read": "b9b9b6a27cf43cc9",
    "asyncua.server.address_space:ViewService.translate_browsepaths_to_nodeids": "8f6f3ede4fcff541",
    "asyncua.server.address_space:MethodService.call": "caea17f731bb46b7",
    "asyncua.server.server:Server.init": "62a8c90e822ca7a8",
    "asyncua.server.internal_server:InternalServer.init": "cff48d01efe1ba19",
    "asyncua.server.address_space:AddressSpace": "6871bf95d7f2428a",
    "asyncua.server.address_space:NodeData": "51c3f67d8d4413d8",
    "asyncua.server.address_space:ViewService._translate_browsepath_to_nodeid": "d6ca3078f1dd6342",
    "asyncua.server.address_space:ViewService._find_elements_in_node": "727fba3305c480c2",
}


def _resolve(name: str) -> Any:
    module, qualified = name.split(":")
    found: Any = importlib.import_module(module)
    for part in qualified.split("."):
        found = getattr(found, part)
    return found


def test_every_internal_has_a_digest() -> None:
    assert set(DIGESTS) == set(gate.INTERNALS)


@pytest.mark.parametrize("name", gate.INTERNALS)
def test_asyncua_internals_are_unchanged(name: str) -> None:
    try:
        source = inspect.getsource(_resolve(name))
    except AttributeError:
        pytest.fail(f"asyncua no longer has {name}: the OPC UA adapter relies on it")
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert digest == DIGESTS[name], f"asyncua's {name} changed: check gateway/opcua/stack/"


def test_the_installed_asyncua_is_the_supported_series() -> None:
    assert version("asyncua").startswith(gate.ASYNCUA_SERIES)
    assert gate.SUPPORTED
    gate.check_version()


def test_another_asyncua_is_refused_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "SUPPORTED", False)
    monkeypatch.setattr(gate, "INSTALLED", "2.2.0")
    with pytest.raises(GatewayError, match=r"asyncua 2\.2\.0 is installed.*asyncua 2\.1\.x"):
        gate.check_version()
