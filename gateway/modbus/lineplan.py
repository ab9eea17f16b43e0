"""How busy each shared RTU line will be: requests per scan and line time at its speed (pure).

A serial line carries one frame at a time, so what its devices ask for adds
up: each request costs its frame and its answer on the wire (11 bits a
character at 8E1 or 8N2), t3.5 of silence after each, and the device's
turnaround. `gateway check` prints the sums per scan class against the scan
interval, and warns when the line needs more time than there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import DeviceConfig, SerialConfig
from gateway.config.lines import line_of
from gateway.modbus.deviceplan import plan_device
from gateway.rtuframe import LineTiming, response_length

__all__ = ["LinePlan", "ScanLoad", "plan_lines", "request_time"]

_REQUEST_FRAME = 8  # unit, function, address, quantity, CRC: every read request


@dataclass(slots=True)
class ScanLoad:
    """The requests of one scan class on a line, and the line time they take."""

    interval: float
    requests: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class LinePlan:
    """One shared line: its devices, its speed and its load per scan class."""

    name: str
    settings: SerialConfig
    assumed: bool  # a converter whose line speed the file does not give
    devices: list[str] = field(default_factory=list)
    loads: dict[float, ScanLoad] = field(default_factory=dict)

    @property
    def timing(self) -> LineTiming:
        s = self.settings
        return LineTiming.of(s.baudrate, s.data_bits, s.parity.value != "none", s.stop_bits)

    @property
    def busy(self) -> float:
        """The fraction of the line's time its scans need: above 1 it cannot keep up."""
        return sum(load.seconds / load.interval for load in self.loads.values())


def request_time(timing: LineTiming, response_bytes: int, turnaround: float = 0.0) -> float:
    """Line time of one exchange: both frames on the wire, t3.5 after each, the turnaround."""
    return timing.frame_time(_REQUEST_FRAME + response_bytes) + 2 * timing.t35 + turnaround


def plan_lines(devices: tuple[DeviceConfig, ...]) -> list[LinePlan]:
    """Every shared RTU line of `devices`, in file order, with its load (disabled devices
    do not count: they send nothing)."""
    lines: dict[str, LinePlan] = {}
    for device in devices:
        name = line_of(device)
        if name is None:
            continue
        plan = lines.get(name)
        if plan is None:
            plan = lines[name] = LinePlan(
                name, device.serial or SerialConfig(), assumed=device.serial is None
            )
        plan.devices.append(device.name)
        if not device.enabled:
            continue
        timing = plan.timing
        for block in plan_device(device):
            load = plan.loads.setdefault(block.scan_interval, ScanLoad(block.scan_interval))
            pdu = bytes((block.table.read_function, 0, 0)) + block.count.to_bytes(2, "big")
            answer = response_length(pdu)
            load.requests += 1
            load.seconds += request_time(timing, answer, device.turnaround or 0.0)
    for plan in lines.values():
        plan.loads = dict(sorted(plan.loads.items()))
    return list(lines.values())
