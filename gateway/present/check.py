"""The `gateway check` report: devices, tag counts and planned requests (pure)."""

from __future__ import annotations

from collections import Counter

from gateway.config import DeviceConfig, GatewayConfig, Transport
from gateway.modbus.deviceplan import plan_device
from gateway.modbus.lineplan import LinePlan, plan_lines

__all__ = ["format_check", "format_duration"]


def format_duration(seconds: float) -> str:
    """Seconds back in the configuration's notation (250ms, 1s, 5m, 2h, 30d)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    millis = seconds * 1000
    return f"{millis:g}ms"


def _device_lines(device: DeviceConfig) -> list[str]:
    blocks = plan_device(device)
    state = "" if device.enabled else "  [disabled]"
    if device.connection is not None:
        state += f"  [shares connection {device.connection!r}]"
    if device.transport is not Transport.TCP:
        state += f"  [{device.transport}]"
    if device.broadcast:
        state += "  [broadcast: written, never read]"
    lines = [
        f"device {device.name}: {device.where} unit {device.unit_id}, "
        f"{len(device.tags)} tags, byte order {device.byte_order}, "
        f"word order {device.word_order}{state}"
    ]
    per_class = Counter(block.scan_interval for block in blocks)
    for interval in sorted(per_class):
        lines.append(f"  scan class {format_duration(interval)}: {per_class[interval]} request(s)")
        for block in blocks:
            if block.scan_interval != interval:
                continue
            unit = ("bit" if block.table.is_bit else "register") + ("s" if block.count > 1 else "")
            lines.append(
                f"    FC{block.table.read_function:02d} {block.table:<16} "
                f"{block.start:>5}..{block.end - 1:<5} {block.count:>4} {unit:<9} "
                f"{len(block.tags):>4} tag(s)"
            )
    rate = sum(1.0 / block.scan_interval for block in blocks)
    lines.append(f"  {len(blocks)} request(s) planned, {rate:g} request(s)/s")
    return lines


def format_check(config: GatewayConfig, *, source: str) -> str:
    """The `gateway check` report: devices, tag counts and planned requests."""
    tags = sum(len(device.tags) for device in config.devices)
    lines = [
        f"{source}: OK: gateway {config.gateway.name!r}, {len(config.devices)} device(s), "
        f"{tags} tag(s), {len(config.alarms)} alarm(s)",
        f"OPC UA {config.opcua.endpoint} namespace {config.opcua.namespace}",
        f"storage {config.storage.url}",
        "",
    ]
    for device in config.devices:
        lines.extend(_device_lines(device))
        lines.append("")
    for line in plan_lines(config.devices):
        lines.extend(_line_lines(line))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _line_lines(plan: LinePlan) -> list[str]:
    """A shared RTU line: its devices, and its line time per scan against the interval."""
    speed = plan.settings.describe() + (" (assumed: set serial.baudrate)" if plan.assumed else "")
    lines = [
        f"line {plan.name} at {speed}: {len(plan.devices)} device(s) {', '.join(plan.devices)}"
    ]
    for load in plan.loads.values():
        share = load.seconds / load.interval
        lines.append(
            f"  scan class {format_duration(load.interval)}: {load.requests} request(s), "
            f"about {load.seconds * 1000:.0f} ms of line time ({share:.0%} of the interval)"
        )
    busy = plan.busy
    if busy > 1:
        lines.append(
            f"  warning: the line needs {busy:.0%} of its time: scans will run late "
            "(raise scan_interval, move devices to another line, or raise the baud rate)"
        )
    else:
        lines.append(f"  line busy {busy:.0%} of the time, before retries of units that fail")
    return lines
