"""Our metrics ⇄ Sparkplug B protobuf bytes; the only module importing the generated classes.

Values go in the field the Sparkplug datatype names (spec 6.4.16): 8-, 16-
and signed 32-bit integers in `int_value` (uint32; a negative one as its
two's complement), 64-bit ones in `long_value` (uint64, the same), Float,
Double, Boolean and String in their own fields. UInt32 goes in `long_value`
as Eclipse Tahu (Java and JavaScript, what hosts run) writes and reads it:
Tahu's JavaScript decoder finds no value of a UInt32 in `int_value`. A
value of None is sent `is_null` with no value field, as a Bad reading has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from google.protobuf.message import DecodeError

from gateway.mqtt.sparkplug import sparkplug_b_pb2 as pb

__all__ = [
    "DecodedMetric",
    "DecodedPayload",
    "MetricType",
    "OutMetric",
    "PayloadError",
    "decode_payload",
    "encode_payload",
    "live_timestamps",
]

PropertyValue = bool | int | float | str
MetricValue = bool | int | float | str | None


class MetricType(IntEnum):
    """Sparkplug B datatypes of the basic kinds we send (the enum in the proto)."""

    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14


_INT32_FIELD = (MetricType.INT8, MetricType.INT16, MetricType.INT32)
_UINT32_FIELD = (MetricType.UINT8, MetricType.UINT16)
_INT64_FIELD = (MetricType.INT64,)
_UINT64_FIELD = (MetricType.UINT32, MetricType.UINT64, MetricType.DATETIME)
_BITS = {
    MetricType.INT8: 8,
    MetricType.INT16: 16,
    MetricType.INT32: 32,
    MetricType.INT64: 64,
}


class PayloadError(ValueError):
    """Bytes that are no Sparkplug B payload, or a metric value that does not fit its type."""


@dataclass(frozen=True, slots=True)
class OutMetric:
    """One metric to send: `name` in births (None: by alias only); `alias` None only for
    `Node Control/Rebirth`, which a host sends by name (the spec forbids its alias)."""

    alias: int | None
    datatype: MetricType
    value: MetricValue
    timestamp_ms: int
    name: str | None = None
    historical: bool = False
    properties: Mapping[str, tuple[MetricType, PropertyValue]] | None = None


@dataclass(frozen=True, slots=True)
class DecodedMetric:
    """One metric as received."""

    name: str | None
    alias: int | None
    datatype: int | None
    value: MetricValue
    timestamp_ms: int | None
    is_null: bool = False
    historical: bool = False
    properties: dict[str, PropertyValue | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    timestamp_ms: int | None
    seq: int | None
    metrics: tuple[DecodedMetric, ...]


def encode_payload(metrics: Sequence[OutMetric], *, timestamp_ms: int, seq: int | None) -> bytes:
    """The payload's bytes; `seq` None for NDEATH (which has none)."""
    payload = pb.Payload(timestamp=timestamp_ms)
    if seq is not None:
        payload.seq = seq
    for metric in metrics:
        out = payload.metrics.add()
        if metric.name is not None:
            out.name = metric.name
        if metric.alias is not None:
            out.alias = metric.alias
        out.timestamp = metric.timestamp_ms
        out.datatype = metric.datatype
        if metric.historical:
            out.is_historical = True
        _set_value(out, metric.datatype, metric.value)
        if metric.properties:
            for key, (kind, value) in metric.properties.items():
                out.properties.keys.append(key)
                prop = out.properties.values.add()
                prop.type = kind
                _set_value(prop, kind, value)
    return payload.SerializeToString()


def _set_value(
    out: pb.Payload.Metric | pb.Payload.PropertyValue, kind: MetricType, value: MetricValue
) -> None:
    if value is None:
        out.is_null = True
    elif kind is MetricType.BOOLEAN:
        out.boolean_value = bool(value)
    elif kind in (MetricType.STRING, MetricType.TEXT):
        out.string_value = str(value)
    elif kind is MetricType.FLOAT:
        out.float_value = float(value)
    elif kind is MetricType.DOUBLE:
        out.double_value = float(value)
    elif kind in _INT32_FIELD or kind in _UINT32_FIELD:
        out.int_value = _wrapped(int(value), 32)
    elif kind in _INT64_FIELD or kind in _UINT64_FIELD:
        out.long_value = _wrapped(int(value), 64)
    else:
        raise PayloadError(f"unsupported Sparkplug datatype {kind}")


def _wrapped(value: int, bits: int) -> int:
    """A signed integer as the unsigned field carries it (two's complement)."""
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise PayloadError(f"{value} does not fit in {bits} bits")
    return value & ((1 << bits) - 1)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def decode_payload(data: bytes) -> DecodedPayload:
    """A received payload (NCMD, DCMD, or ours read back); PayloadError if malformed."""
    payload = pb.Payload()
    try:
        payload.ParseFromString(data)
    except DecodeError as error:
        raise PayloadError(f"not a Sparkplug B payload: {error}") from None
    metrics = tuple(_decoded(metric) for metric in payload.metrics)
    return DecodedPayload(
        payload.timestamp if payload.HasField("timestamp") else None,
        payload.seq if payload.HasField("seq") else None,
        metrics,
    )


def live_timestamps(data: bytes, limit: int = 20) -> list[int]:
    """The timestamps of up to `limit` live (not historical) metrics: a cheap look for
    the benchmark's subscriber, which must not be the bottleneck it measures."""
    payload = pb.Payload()
    try:
        payload.ParseFromString(data)
    except DecodeError as error:
        raise PayloadError(f"not a Sparkplug B payload: {error}") from None
    stamps: list[int] = []
    for metric in payload.metrics:
        if not metric.is_historical and metric.HasField("timestamp"):
            stamps.append(metric.timestamp)
            if len(stamps) >= limit:
                break
    return stamps


def _decoded(metric: pb.Payload.Metric) -> DecodedMetric:
    properties: dict[str, PropertyValue | None] = {}
    if metric.HasField("properties"):
        for key, prop in zip(metric.properties.keys, metric.properties.values, strict=False):
            properties[key] = _value_of(prop, prop.type if prop.HasField("type") else None)
    datatype = metric.datatype if metric.HasField("datatype") else None
    return DecodedMetric(
        name=metric.name if metric.HasField("name") else None,
        alias=metric.alias if metric.HasField("alias") else None,
        datatype=datatype,
        value=_value_of(metric, datatype),
        timestamp_ms=metric.timestamp if metric.HasField("timestamp") else None,
        is_null=metric.is_null,
        historical=metric.is_historical,
        properties=properties,
    )


def _value_of(
    message: pb.Payload.Metric | pb.Payload.PropertyValue, datatype: int | None
) -> MetricValue:
    which = message.WhichOneof("value")
    if which is None:
        return None
    value: MetricValue = getattr(message, which)
    if isinstance(value, int) and not isinstance(value, bool) and datatype in _BITS:
        bits = 32 if which == "int_value" else 64
        value = _signed(value, bits)
    elif not isinstance(value, MetricValue):
        return None  # datasets, templates, bytes: not something a tag holds
    return value
