"""The edge node's metric catalog: names, aliases and Sparkplug datatypes (pure).

Every tag of every device is a metric named as the tag; the node's own
metrics and each device's `_Status/…` fields are metrics too. Aliases are
unique across the edge node (Sparkplug 3.0, "alias") and stable: numbered in
configuration order, so a restart with the same file gives the same aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.model import DataType, Status, TagValue, Value
from gateway.mqtt.sparkplug import MetricType, OutMetric
from gateway.tags import Tag

__all__ = [
    "BD_SEQ",
    "NEXT_SERVER",
    "QUALITY_BAD",
    "QUALITY_GOOD",
    "QUALITY_UNCERTAIN",
    "REBIRTH",
    "STATUS_FIELDS",
    "Catalog",
    "DeviceMetrics",
    "TagMetric",
    "metric_type",
    "quality",
    "status_values",
]

BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
NEXT_SERVER = "Node Control/Next Server"
#: Ignition's quality codes, which Sparkplug hosts read from the `Quality` property.
QUALITY_GOOD = 192
QUALITY_UNCERTAIN = 500
QUALITY_BAD = 0
#: A device's `_Status` fields served as metrics (as the OPC UA `_Status` object has them).
STATUS_FIELDS: dict[str, MetricType] = {
    "_Status/State": MetricType.STRING,
    "_Status/Connected": MetricType.BOOLEAN,
    "_Status/LastError": MetricType.STRING,
    "_Status/LastPollTime": MetricType.DATETIME,
    "_Status/ResponseTime": MetricType.DOUBLE,
    "_Status/Requests": MetricType.UINT64,
    "_Status/Errors": MetricType.UINT64,
}
#: The fields whose change is worth a DDATA of its own (the counters move every scan).
STATUS_CHANGES = ("_Status/State", "_Status/Connected", "_Status/LastError")

_INTEGER_TYPES = {
    DataType.INT16: MetricType.INT16,
    DataType.UINT16: MetricType.UINT16,
    DataType.INT32: MetricType.INT32,
    DataType.UINT32: MetricType.UINT32,
    DataType.INT64: MetricType.INT64,
    DataType.UINT64: MetricType.UINT64,
    DataType.BCD16: MetricType.UINT16,
    DataType.BCD32: MetricType.UINT32,
}


def metric_type(tag: Tag) -> MetricType:
    """The Sparkplug datatype of a tag; scaled integers are Double, as in OPC UA."""
    kind = tag.data_type
    if kind is DataType.BOOL:
        return MetricType.BOOLEAN
    if kind is DataType.STRING:
        return MetricType.STRING
    if kind is DataType.FLOAT32:
        return MetricType.FLOAT
    if kind is DataType.FLOAT64 or tag.encoding.is_scaled:
        return MetricType.DOUBLE
    return _INTEGER_TYPES[kind]


def quality(status: Status) -> int:
    """The `Quality` property of a status: 192 Good, 500 Uncertain, 0 Bad."""
    if status.is_good:
        return QUALITY_GOOD
    return QUALITY_UNCERTAIN if status.is_uncertain else QUALITY_BAD


def _ms(seconds: float | None, default: float) -> int:
    return round((seconds if seconds is not None else default) * 1000)


_KEPT_AS_IS = (bool, str)
_FLOAT_TYPES = frozenset((MetricType.FLOAT, MetricType.DOUBLE))


@dataclass(frozen=True, slots=True)
class TagMetric:
    """One tag as a metric."""

    tag: Tag
    alias: int
    datatype: MetricType

    def value_of(self, value: Value | None) -> Value | None:
        """The value in the datatype's Python type (a scaled integer is a float).
        Once per metric of every DDATA, a replay's included: constant tuples, no unions."""
        if value is None or isinstance(value, _KEPT_AS_IS):
            return value
        if self.datatype in _FLOAT_TYPES:
            return float(value)
        return int(value)

    def birth(self, reading: TagValue, now: float) -> OutMetric:
        """The metric in a DBIRTH: name, alias, datatype, value, EngUnit and Quality."""
        properties: dict[str, tuple[MetricType, bool | int | float | str]] = {
            "Quality": (MetricType.INT32, quality(reading.status))
        }
        if self.tag.unit is not None:
            properties["EngUnit"] = (MetricType.STRING, self.tag.unit)
        return OutMetric(
            alias=self.alias,
            datatype=self.datatype,
            value=self.value_of(reading.value),
            timestamp_ms=_ms(reading.source_time, now),
            name=self.tag.name,
            properties=properties,
        )

    def data(
        self, reading: TagValue, now: float, *, status_changed: bool, historical: bool = False
    ) -> OutMetric:
        """The metric in a DDATA: alias only; Quality again when the status changed."""
        return OutMetric(
            alias=self.alias,
            datatype=self.datatype,
            value=self.value_of(reading.value),
            timestamp_ms=_ms(reading.source_time, reading.server_time or now),
            historical=historical,
            properties={"Quality": (MetricType.INT32, quality(reading.status))}
            if status_changed
            else None,
        )


def status_values(health: DeviceHealth) -> dict[str, bool | int | float | str | None]:
    """A device's `_Status` metric values now."""
    last = health.last_poll_time
    return {
        "_Status/State": str(health.state),
        "_Status/Connected": health.state is DeviceState.OK,
        "_Status/LastError": health.last_error,
        "_Status/LastPollTime": None if last is None else round(last * 1000),
        "_Status/ResponseTime": float(health.response_time_ms),
        "_Status/Requests": health.requests,
        "_Status/Errors": health.errors,
    }


@dataclass(frozen=True, slots=True)
class DeviceMetrics:
    """One device's metrics: its tags, and its `_Status` fields by name → alias."""

    device: str
    tags: tuple[TagMetric, ...]
    status_aliases: Mapping[str, int]

    def status_metrics(
        self, values: Mapping[str, bool | int | float | str | None], now: float, *, names: bool
    ) -> list[OutMetric]:
        stamp = round(now * 1000)
        return [
            OutMetric(
                alias=self.status_aliases[field],
                datatype=STATUS_FIELDS[field],
                value=values[field],
                timestamp_ms=stamp,
                name=field if names else None,
            )
            for field in values
        ]


class Catalog:
    """Every metric of the edge node with its alias."""

    #: Aliases of the node's own metrics; device metrics follow.
    NODE_ALIASES: Mapping[str, int] = {BD_SEQ: 0, REBIRTH: 1, NEXT_SERVER: 2}

    def __init__(self, devices: Iterable[str], tags: Iterable[Tag]) -> None:
        by_device: dict[str, list[Tag]] = {device: [] for device in devices}
        for tag in tags:
            by_device.setdefault(tag.device, []).append(tag)
        alias = len(self.NODE_ALIASES) + len(NODE_METRICS)
        self.devices: dict[str, DeviceMetrics] = {}
        self.by_key: dict[str, TagMetric] = {}
        for device, device_tags in by_device.items():
            metrics = []
            for tag in device_tags:
                metric = TagMetric(tag, alias, metric_type(tag))
                metrics.append(metric)
                self.by_key[tag.key] = metric
                alias += 1
            status = {}
            for field in STATUS_FIELDS:
                status[field] = alias
                alias += 1
            self.devices[device] = DeviceMetrics(device, tuple(metrics), status)
        self.metric_count = alias

    def node_metric_alias(self, name: str) -> int:
        if name in self.NODE_ALIASES:
            return self.NODE_ALIASES[name]
        return len(self.NODE_ALIASES) + NODE_METRICS.index(name)


#: The gateway's own metrics in NBIRTH (after bdSeq and the node controls).
NODE_METRICS: tuple[str, ...] = (
    "Properties/Devices",
    "Properties/Tags",
    "Properties/Software",
    "MQTT/Commands Refused",
)
