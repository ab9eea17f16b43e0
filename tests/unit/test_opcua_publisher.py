"""TagValues as OPC UA DataValues (DESIGN.md §7), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from asyncua import ua
from asyncua.ua.ua_binary import struct_to_binary

from gateway.codec import Encoding
from gateway.modbus.health import DeviceHealth
from gateway.model import DataType, Status, Table, TagValue
from gateway.opcua.datatypes import ua_type
from gateway.opcua.publisher import apply_health, apply_values, data_value
from gateway.opcua.space import STATUS_FIELDS, GatewaySpace, TagBinding
from gateway.opcua.stack import ValueSlot
from gateway.tags import Tag
from gateway.ua.wire import DATETIME_NULL

T = 1_700_000_000.25


def _binding(data_type: DataType = DataType.INT16, scale: float = 1.0) -> TagBinding:
    tag = Tag("d", "t", Table.HOLDING_REGISTER, 0, Encoding(data_type=data_type, scale=scale), 1.0)
    return TagBinding(tag, ua_type(tag), ValueSlot(ua.DataValue()))


def test_good_value_in_the_node_type_with_both_timestamps() -> None:
    served = data_value(_binding(), TagValue("d.t", 7, Status.GOOD, T, T + 1))
    assert served.Value == ua.Variant(7, ua.VariantType.Int16)
    assert served.StatusCode == ua.StatusCode(0)
    assert served.SourceTimestamp == datetime.fromtimestamp(T, UTC)
    assert served.ServerTimestamp == datetime.fromtimestamp(T + 1, UTC)


def test_uncertain_keeps_the_last_value_and_bad_carries_none() -> None:
    binding = _binding(DataType.INT16, scale=0.5)
    status = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
    uncertain = data_value(binding, TagValue("d.t", 3, status, T, T + 1))
    assert uncertain.Value == ua.Variant(3.0, ua.VariantType.Double)
    assert uncertain.StatusCode.value == status.value
    bad = data_value(binding, TagValue("d.t", 3, Status.BAD_CONFIGURATION_ERROR, T, T + 1))
    assert bad.Value == ua.Variant(None, ua.VariantType.Null)
    assert bad.StatusCode.value == Status.BAD_CONFIGURATION_ERROR.value
    never = data_value(binding, TagValue("d.t", None, Status.BAD_NO_COMMUNICATION, None, T))
    assert never.SourceTimestamp is None


async def test_apply_values_updates_nodes_and_calls_subscribers() -> None:
    binding = _binding()
    space = GatewaySpace(2, tags={"d.t": binding})
    seen: list[tuple[int, ua.DataValue]] = []

    async def callback(handle: int, value: ua.DataValue) -> None:
        seen.append((handle, value))

    binding.attribute.datachange_callbacks[7] = callback
    values = [TagValue("d.t", 5, Status.GOOD, T, T), TagValue("x.y", 1, Status.GOOD, T, T)]
    assert await apply_values(space, values) == 1
    assert binding.attribute.value is not None
    assert binding.attribute.value.Value == ua.Variant(5, ua.VariantType.Int16)
    assert seen == [(7, binding.attribute.value)]


def _status_space() -> GatewaySpace:
    space = GatewaySpace(2)
    space.status["plc"] = {name: ValueSlot(ua.DataValue()) for name in STATUS_FIELDS}
    return space


async def test_health_of_a_device_that_never_answered_is_encodable() -> None:
    """Issue 14, finding 8: a null LastPollTime made every Read including it fail."""
    space = _status_space()
    await apply_health(space, DeviceHealth("plc"), T)
    fields = space.status["plc"]
    for name, variant in STATUS_FIELDS.items():
        value = fields[name].value
        assert value is not None
        assert value.Value is not None
        assert value.Value.VariantType == variant, name
        struct_to_binary(value)  # raises if the value cannot be sent
    poll = fields["LastPollTime"].value
    assert poll is not None
    assert poll.Value == ua.Variant(DATETIME_NULL, ua.VariantType.DateTime)


async def test_health_stores_only_the_fields_that_changed() -> None:
    space = _status_space()
    health = DeviceHealth("plc")
    await apply_health(space, health, T)
    before = {name: slot.value for name, slot in space.status["plc"].items()}
    health.requests = 5
    health.last_poll_time = T + 1
    await apply_health(space, health, T + 2)
    after = space.status["plc"]
    changed = {name for name, slot in after.items() if slot.value is not before[name]}
    assert changed == {"Requests", "LastPollTime"}
    requests = after["Requests"].value
    assert requests is not None
    assert requests.Value == ua.Variant(5, ua.VariantType.UInt64)
    assert requests.SourceTimestamp == datetime.fromtimestamp(T + 2, UTC)
    poll = after["LastPollTime"].value
    assert poll is not None
    assert poll.Value == ua.Variant(datetime.fromtimestamp(T + 1, UTC), ua.VariantType.DateTime)


def test_values_of_one_scan_share_their_timestamps() -> None:
    binding = _binding()
    first = data_value(binding, TagValue("d.t", 1, Status.GOOD, T, T))
    second = data_value(binding, TagValue("d.t", 2, Status.GOOD, T, T))
    assert first.SourceTimestamp is first.ServerTimestamp is second.SourceTimestamp
    later = data_value(binding, TagValue("d.t", 3, Status.GOOD, T, T + 2))
    assert later.SourceTimestamp == datetime.fromtimestamp(T, UTC)
    assert later.ServerTimestamp == datetime.fromtimestamp(T + 2, UTC)
