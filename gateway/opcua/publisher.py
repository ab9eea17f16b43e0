"""Live values into the address space: tag values from the bus, device health.

Values are stored straight into each node's Value attribute and the node's
monitored items are notified only when a client subscribes to it, which skips
asyncua's per-write type check and lookups (`write_attribute_value`), and,
for asyncua's own monitored items, its deep copy of each DataValue per item
(the adapter's fast path: every DataValue built here is new and never mutated). The
type check is not lost: every value is converted to its node's exact
VariantType here (see datatypes.py).

Status rules (docs/opcua.md, "Values and status codes"): Bad values carry no value (a null Variant);
Uncertain values keep the last usable value the poller sends with them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from asyncua import ua

from gateway.bus import Subscription
from gateway.modbus.health import DeviceHealth
from gateway.model import Status, TagValue
from gateway.opcua.space import STATUS_FIELDS, GatewaySpace, TagBinding
from gateway.opcua.stack import store as _store
from gateway.ua.wire import DATETIME_NULL, scalar_variant, status_code, utc
from gateway.ua.wire import data_value as wire_data_value

__all__ = ["apply_health", "apply_values", "consume", "data_value", "follow_health"]

log = logging.getLogger(__name__)

_NULL = ua.Variant(None, ua.VariantType.Null)
_STATUS_CODES: dict[int, ua.StatusCode] = {}


def _status_code(status: Status) -> ua.StatusCode:
    """One StatusCode object per code: they are never mutated once sent."""
    code = _STATUS_CODES.get(status)
    if code is None:
        code = _STATUS_CODES[status] = status_code(status.value)
    return code


class _Stamps:
    """utc() of the last time seen, so the values of one scan share their timestamps.

    A scan's values carry one poll time (source and server alike), and each
    DataValue stays in its node until the tag changes: two datetimes of 48
    bytes a tag, 9.6 MB at 100k tags, became one per scan (issue 21). A
    datetime is immutable, so sharing it is safe.
    """

    __slots__ = ("seconds", "stamp")

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.stamp: Any = None

    def __call__(self, seconds: float | None) -> Any:
        if seconds != self.seconds:
            self.seconds, self.stamp = seconds, utc(seconds)
        return self.stamp


_stamp = _Stamps()


def data_value(binding: TagBinding, value: TagValue) -> ua.DataValue:
    """The DataValue a TagValue is served as, in the node's exact VariantType."""
    if value.status.is_bad or value.value is None:
        variant = _NULL
    else:
        kind = binding.ua_type
        variant = scalar_variant(kind.convert(value.value), kind.variant)
    return wire_data_value(
        variant,
        _status_code(value.status),
        _stamp(value.source_time),
        _stamp(value.server_time),
    )


async def apply_values(space: GatewaySpace, values: Iterable[TagValue]) -> int:
    """Store every value of known tags; returns how many were applied."""
    tags = space.tags
    applied = 0
    for value in values:
        binding = tags.get(value.tag)
        if binding is None:
            continue
        try:
            served = data_value(binding, value)
        except (TypeError, ValueError, OverflowError) as error:  # a codec bug, not a PLC fault
            log.warning("OPC UA: cannot serve %r for %s: %s", value.value, value.tag, error)
            continue
        await _store(binding.attribute, served)
        applied += 1
    return applied


async def consume(space: GatewaySpace, subscription: Subscription) -> None:
    """Apply batches from the bus until the subscription is closed."""
    while batches := await subscription.get_many():
        for batch in batches:
            await apply_values(space, batch)


def _health_fields(health: DeviceHealth) -> dict[str, object]:
    return {
        "Connected": health.connected,
        "State": str(health.state),
        "LastError": health.last_error,
        "LastPollTime": (
            utc(health.last_poll_time) if health.last_poll_time is not None else DATETIME_NULL
        ),
        "ResponseTime": float(health.response_time_ms),
        "Requests": health.requests,
        "Errors": health.errors,
    }


async def apply_health(space: GatewaySpace, health: DeviceHealth, now: float) -> None:
    """Update the device's `_Status` variables whose value changed."""
    fields = space.status.get(health.device)
    if fields is None:
        return
    stamp = utc(now)
    for name, new in _health_fields(health).items():
        attribute = fields[name]
        old = attribute.value
        if old is not None and old.Value is not None and old.Value.Value == new:
            continue
        variant = ua.Variant(new, STATUS_FIELDS[name])
        await _store(attribute, ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=stamp))


async def follow_health(
    space: GatewaySpace, healths: Callable[[], Iterable[DeviceHealth]], interval: float
) -> None:
    """Refresh `_Status` every `interval` seconds for devices whose health `version` moved."""
    seen: dict[str, int] = {}
    while True:
        now = time.time()
        for health in healths():
            if seen.get(health.device) != health.version:
                seen[health.device] = health.version
                await apply_health(space, health, now)
        await asyncio.sleep(interval)
