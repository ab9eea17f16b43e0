"""`read` and `write` on a connected session, returning plain records for the CLI.

A write first reads the node's NodeClass and DataType: the text is converted
to that exact built-in type (asyncua servers drop a Variant of another type)
and a Bad result is explained in the user's terms, not only by its code name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.ua.uaerrors import UaError

from gateway.errors import ClientError
from gateway.ua.wire import AttributeIds, StatusCodes
from gateway.uaclient.convert import parse_value
from gateway.uaclient.session import Session
from gateway.uaclient.uanames import format_time, format_value, status_name, type_name
from gateway.uaclient.units import implied_unit, unit_properties

__all__ = ["Reading", "Written", "read", "read_attributes", "unknown_node", "write"]

_A = AttributeIds
_S = StatusCodes
#: Explanations of write results, after the code name.
_WRITE_HINTS: dict[int, str] = {
    _S.BadNotWritable: "the tag is not writable (writable: false in the gateway configuration)",
    _S.BadOutOfRange: "the value is outside the tag's range (its EURange)",
    _S.BadTypeMismatch: "the value does not match the node's data type",
    _S.BadCommunicationError: "the write to the PLC failed",
    _S.BadTimeout: "the PLC did not answer in time: the write's outcome is unknown",
    _S.BadNodeIdUnknown: "unknown node",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One node's value as text, for the table `gateway read` prints; unit '' when none."""

    node: str
    value: str
    status: str
    source_time: str
    data_type: str
    unknown: bool
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Written:
    """A write's outcome: the value as sent, its type and the server's result."""

    node: str
    value: str
    data_type: str
    status: str


async def read_attributes(
    session: Session, requests: Sequence[tuple[ua.NodeId, AttributeIds]]
) -> list[ua.DataValue]:
    """One Read service call for any number of (node, attribute) pairs."""
    params = ua.ReadParameters()
    params.NodesToRead = [_read_value_id(node, attribute) for node, attribute in requests]
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    if not params.NodesToRead:
        return []
    result: list[ua.DataValue] = await session.client.uaclient.read(params)
    return result


def _read_value_id(node: ua.NodeId, attribute: AttributeIds) -> ua.ReadValueId:
    read_id = ua.ReadValueId()
    read_id.NodeId = node
    read_id.AttributeId = attribute
    return read_id


async def read(session: Session, nodes: Sequence[str]) -> list[Reading]:
    """Value, unit, status, source time and data type of every node, in two requests."""
    ids = [session.node_id(text) for text in nodes]
    unit_nodes = await unit_properties(session, ids)
    requests = [(node, attr) for node in ids for attr in (_A.Value, _A.DataType)]
    requests += [(unit, _A.Value) for unit in unit_nodes if unit is not None]
    values = await read_attributes(session, requests)
    unit_values = iter(values[2 * len(ids) :])
    readings = []
    for index, text in enumerate(nodes):
        value, data_type = values[2 * index], values[2 * index + 1]
        if unit_nodes[index] is None:
            unit = implied_unit(session, ids[index])
        else:
            unit_value = next(unit_values)
            unit = format_value(unit_value.Value.Value if unit_value.Value else None)
            unit = "" if unit == "-" else unit
        code = int(value.StatusCode.value) if value.StatusCode is not None else 0
        variant = value.Value.VariantType if value.Value is not None else None
        readings.append(
            Reading(
                node=text,
                value=format_value(value.Value.Value if value.Value else None, variant),
                status=status_name(code),
                source_time=format_time(value.SourceTimestamp),
                data_type=await _type_text(session, data_type),
                unknown=code == _S.BadNodeIdUnknown,
                unit=unit,
            )
        )
    return readings


async def _type_text(session: Session, data_type: ua.DataValue) -> str:
    if data_type.StatusCode is not None and not data_type.StatusCode.is_good():
        return "-"
    node_id: Any = data_type.Value.Value if data_type.Value is not None else None
    if not isinstance(node_id, ua.NodeId):
        return "-"
    name = type_name(node_id)
    if name is not None:
        return name
    browse_name = await session.client.get_node(node_id).read_browse_name()
    return str(browse_name.Name)


async def write(session: Session, node: str, text: str) -> Written:
    """Convert `text` to the node's type and write it; ClientError on any Bad result."""
    node_id = session.node_id(node)
    node_class, data_type = await read_attributes(
        session, [(node_id, _A.NodeClass), (node_id, _A.DataType)]
    )
    if node_class.StatusCode is not None and not node_class.StatusCode.is_good():
        raise ClientError(unknown_node(session, node, int(node_class.StatusCode.value)))
    if node_class.Value is None or node_class.Value.Value != ua.NodeClass.Variable:
        kind = ua.NodeClass(node_class.Value.Value).name if node_class.Value else "unknown"
        raise ClientError(f"{node} is not a variable (NodeClass {kind}): it has no value to write")
    variant = await _variant_type(session, data_type)
    try:
        value = parse_value(text, variant.name)
    except ValueError as error:
        raise ClientError(f"{node}: {error}") from None
    shown = format_value(value, variant)
    [result] = await session.client.uaclient.write_attributes(
        [node_id], [ua.DataValue(ua.Variant(value, variant))]
    )
    code = int(result.value)
    if not result.is_good():
        hint = await _write_hint(session, node_id, variant, code)
        raise ClientError(f"{node} ← {shown}: {status_name(code)}: {hint}")
    return Written(node=node, value=shown, data_type=variant.name, status=status_name(code))


async def _variant_type(session: Session, data_type: ua.DataValue) -> ua.VariantType:
    node_id: Any = data_type.Value.Value if data_type.Value is not None else None
    if not isinstance(node_id, ua.NodeId):
        raise ClientError("the server did not say the node's data type")
    name = type_name(node_id)
    if name is not None:
        return ua.VariantType[name]
    return await data_type_to_variant_type(session.client.get_node(node_id))


async def _write_hint(
    session: Session, node_id: ua.NodeId, variant: ua.VariantType, code: int
) -> str:
    """What a refused write means for this node, in the user's terms."""
    if code == _S.BadUserAccessDenied:
        user = session.options.user
        who = "anonymous" if user is None else f"user {user}"
        return f"the user has no write right ({who}, a viewer); log in as an operator"
    if code == _S.BadTypeMismatch and variant == ua.VariantType.String:
        # The gateway's answer to a text that does not fit the tag's registers.
        return "the text does not fit the tag (too long for its length, 2 bytes per register)"
    if code == _S.BadOutOfRange:
        limits = await _eu_range(session, node_id)
        if limits is not None:
            return f"the value is outside the tag's range {limits}"
    return _WRITE_HINTS.get(code, "the server refused the write")


async def _eu_range(session: Session, node_id: ua.NodeId) -> str | None:
    """The node's EURange property as `[low, high]`, None when it has none."""
    try:
        prop = await session.client.get_node(node_id).get_child("0:EURange")
        value = await prop.read_value()
    except (UaError, ValueError):
        return None
    return format_value(value) if isinstance(value, ua.Range) else None


def unknown_node(session: Session, node: str, code: int) -> str:
    """Why NODE could not be used: unknown (and where to look), or its status code."""
    if code == _S.BadNodeIdUnknown:
        return (
            f"unknown node {node}: the server has no such node "
            f"(`gateway browse {session.options.url}` lists them)"
        )
    return f"{node}: {status_name(code)}"
