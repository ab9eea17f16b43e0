"""A tag's own Value attribute (gateway/opcua/stack/attributes.py `ValueAttribute`).

Real asyncua records, no server: the attribute must behave as asyncua's
`AttributeValue` where asyncua touches it (its callbacks added and removed by
`AddressSpace`), while its dict of callbacks is made only once a client
monitors the node.
"""

from __future__ import annotations

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

from gateway.opcua.stack import store
from gateway.opcua.stack.attributes import NodeAttributes, ValueAttribute

NS = 2


def _space(attribute: ValueAttribute) -> tuple[AddressSpace, ua.NodeId]:
    aspace = AddressSpace()
    node = NodeData(ua.NodeId("plc.temp", NS))
    node.attributes = NodeAttributes({}, attribute)  # type: ignore[assignment]
    aspace[node.nodeid] = node
    return aspace, node.nodeid


def test_an_attribute_is_asyncuas_attribute_with_no_callbacks_dict_until_needed() -> None:
    attribute = ValueAttribute(ua.DataValue(ua.Variant(1.5)))
    assert isinstance(attribute, AttributeValue)
    assert attribute.value is not None
    assert attribute.value.Value == ua.Variant(1.5)
    assert attribute.value_callback is None
    assert attribute.value_setter is None
    assert attribute.callbacks is None
    assert set(vars(AttributeValue(ua.DataValue()))) == {
        "value",
        "value_callback",
        "value_setter",
        "datachange_callbacks",
    }  # the fields ValueAttribute mirrors


async def test_storing_without_monitored_items_makes_no_callbacks_dict() -> None:
    attribute = ValueAttribute(ua.DataValue())
    await store(attribute, ua.DataValue(ua.Variant(2.0)))
    assert attribute.value is not None
    assert attribute.value.Value == ua.Variant(2.0)
    assert attribute.callbacks is None


async def test_asyncua_adds_and_removes_callbacks_and_store_calls_them() -> None:
    attribute = ValueAttribute(ua.DataValue())
    aspace, nodeid = _space(attribute)
    seen: list[tuple[int, ua.DataValue]] = []

    async def callback(handle: int, value: ua.DataValue) -> None:
        seen.append((handle, value))

    status, handle = aspace.add_datachange_callback(nodeid, ua.AttributeIds.Value, callback)
    assert status.is_good()
    assert attribute.callbacks == {handle: callback}
    stored = ua.DataValue(ua.Variant(3.0))
    await store(attribute, stored)
    assert seen == [(handle, stored)]
    aspace.delete_datachange_callback(handle)
    assert attribute.callbacks == {}
    await store(attribute, ua.DataValue(ua.Variant(4.0)))
    assert len(seen) == 1
