"""A device's read plan: its runtime tags planned into read requests.

One function, so the poller, `gateway check` and the benchmarks plan a
device the same way (the planner itself is generic over what it plans).
"""

from __future__ import annotations

from gateway.config import DeviceConfig
from gateway.modbus.planner import ReadBlock, plan_reads
from gateway.tags import Tag, build_tags

__all__ = ["plan_device"]


def plan_device(device: DeviceConfig, tags: tuple[Tag, ...] | None = None) -> list[ReadBlock[Tag]]:
    """The read requests of one device, per table and scan class (see planner).

    None for a broadcast device (unit 0 on an RTU line): nobody answers it.
    """
    if device.broadcast:
        return []
    return plan_reads(
        build_tags(device) if tags is None else tags,
        max_registers=device.max_read_registers,
        max_bits=device.max_read_bits,
        max_gap=device.max_read_gap,
    )
