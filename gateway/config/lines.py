"""Shared RTU lines in a configuration: which devices share one, and what cannot work on one.

Devices with `transport: rtu` on one serial port, or `rtu_over_tcp` at one
converter's host:port, are the units of one line: the gateway opens the port
(or the TCP connection) once and sends their requests one at a time. The rules
here refuse what cannot work on a line, each at the key to blame:

- two devices with one unit id (both would answer, or the wrong one would);
- different settings for one port (speed and format belong to the port);
- a unit id outside 1..247 (248..255 are reserved; 0 is broadcast);
- a broadcast device (unit 0) with anything to read: nobody answers a broadcast,
  so its tags must be writable and whole registers or coils (a bit of a
  register is written by reading it first);
- one host:port reached both as Modbus TCP and as an RTU converter.
"""

from __future__ import annotations

from gateway.config.models import DeviceConfig
from gateway.config.serial import Transport
from gateway.config.validation import Finding
from gateway.config.yamlsource import KeyPath

__all__ = ["LAST_UNIT", "line_findings", "line_of"]

#: Unit ids 248..255 are reserved on a serial line (Modbus over serial line spec §2.2).
LAST_UNIT = 247


def line_of(device: DeviceConfig) -> str | None:
    """The line a device shares with others, as people name it; None for Modbus TCP."""
    if device.transport is Transport.RTU and device.serial is not None:
        return f"serial port {device.serial.port}"
    if device.transport is Transport.RTU_OVER_TCP:
        return f"converter {device.where}"
    return None


def line_findings(devices: tuple[DeviceConfig, ...]) -> list[Finding]:
    """Every problem of the RTU lines of `devices`, in file order."""
    findings: list[Finding] = []
    first_on_line: dict[str, int] = {}
    unit_owner: dict[tuple[str, int], int] = {}
    tcp_endpoints = {
        device.where: index
        for index, device in enumerate(devices)
        if device.transport is Transport.TCP
    }
    for index, device in enumerate(devices):
        line = line_of(device)
        if line is None:
            continue
        path: KeyPath = ("devices", index)
        findings += _unit_findings(device, path)
        head = devices[first_on_line.setdefault(line, index)]
        if head is not device:
            findings += _settings_findings(device, head, path, line)
        owner = unit_owner.setdefault((line, device.unit_id), index)
        if owner != index:
            findings.append(
                Finding(
                    (*path, "unit_id"),
                    f"unit id {device.unit_id} is already used on {line} "
                    f"by device '{devices[owner].name}'",
                )
            )
        tcp = tcp_endpoints.get(device.where)
        if device.transport is Transport.RTU_OVER_TCP and tcp is not None:
            findings.append(
                Finding(
                    (*path, "transport"),
                    f"device '{devices[tcp].name}' reaches {device.where} by Modbus TCP: one "
                    "converter speaks one of the two (check its mode)",
                )
            )
    return findings


def _unit_findings(device: DeviceConfig, path: KeyPath) -> list[Finding]:
    if device.unit_id > LAST_UNIT:
        return [
            Finding(
                (*path, "unit_id"),
                f"unit id {device.unit_id} is not a serial slave address: use 1..{LAST_UNIT} "
                "(0 is broadcast)",
            )
        ]
    if not device.broadcast:
        return []
    findings = []
    for index, tag in enumerate(device.tags):
        where: KeyPath = (*path, "tags", index)
        if not tag.writable:
            findings.append(
                Finding(
                    (*where, "writable"),
                    f"unit 0 is broadcast: nobody answers, so tag '{tag.name}' cannot be read; "
                    "a broadcast device has writable tags only (read each unit by its own id)",
                )
            )
        elif tag.bit is not None:
            findings.append(
                Finding(
                    (*where, "bit"),
                    f"unit 0 is broadcast: writing one bit of a register reads the register "
                    f"first, which nobody answers; write tag '{tag.name}' as a whole register",
                )
            )
    return findings


def _settings_findings(
    device: DeviceConfig, head: DeviceConfig, path: KeyPath, line: str
) -> list[Finding]:
    """A port's speed and format are the port's: every device on it must agree."""
    if device.transport is not Transport.RTU or device.serial is None or head.serial is None:
        return []
    ours, theirs = device.serial, head.serial
    return [
        Finding(
            (*path, "serial", key),
            f"{key} {getattr(ours, key)} differs from {getattr(theirs, key)} of device "
            f"'{head.name}' on {line}: every device on a port uses the same settings",
        )
        for key in ("baudrate", "parity", "stop_bits", "data_bits", "echo")
        if getattr(ours, key) != getattr(theirs, key)
    ]
