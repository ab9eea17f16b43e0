"""What the MQTT side reads from and writes to the running gateway: a small interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.modbus.health import DeviceHealth
from gateway.model import TagValue, Value
from gateway.tags import Tag

__all__ = ["Plant"]


@dataclass(frozen=True, slots=True)
class Plant:
    """The gateway as the publisher sees it (`Acquisition` provides each part)."""

    name: str
    devices: Sequence[str]
    tags: Mapping[str, Tag]
    #: Current value and status of the given tag keys, in order.
    current: Callable[[Iterable[str]], list[TagValue]]
    health: Callable[[str], DeviceHealth]
    #: The checked write of OPC UA writes: raises WriteRejected or DeviceError.
    write: Callable[[str, Value], Awaitable[None]]
