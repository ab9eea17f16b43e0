"""RTU line throughput: requests/s against the line's theoretical rate; CPU per request vs TCP.

A simulated RTU slave runs in a child process (`python -m simulators`) on a
pseudo-terminal it makes, replying at the line's speed (8N2: 11 bits a
character, as 8E1 on a real line; pseudo-terminals refuse parity). This
process polls it back to back through the gateway's own `RtuLine`, one
`registers`-register read after another, and counts. The theoretical rate of
the line is one exchange per

    (request bytes + answer bytes) × 11 bits / baud + 2 × t3.5 + turnaround

(both frames on the wire, the silence after each, no turnaround here). CPU
per request is this process's CPU time over the requests; the same reads
through the Modbus TCP client against a simulated TCP slave (also a child
process) whose answers are delayed by the line's exchange time give the TCP
figure it is compared with: a process that sleeps between requests pays for
each wake-up (40 to 90 µs here, more when other processes ran on the core
meanwhile and the caches are cold), so an unpaced TCP loop would compare the
number of wake-ups, not the protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.bench.report import Report
from gateway.modbus.client import ModbusClient
from gateway.modbus.rtuline import RtuLine
from gateway.model import Table
from gateway.rtuframe import LineTiming, response_length
from gateway.serialio import PortSettings, open_serial

__all__ = ["RtuSpec", "bench_rtu", "theoretical_rate"]

_REQUEST_FRAME = 8


@dataclass(frozen=True, slots=True)
class RtuSpec:
    bauds: tuple[int, ...] = (19200, 115200)
    registers: int = 20  # per read: a meter's block
    seconds: float = 5.0  # per run
    runs: int = 3


def theoretical_rate(baudrate: int, registers: int, turnaround: float = 0.0) -> float:
    """Exchanges per second a line can carry at best (see the module docstring)."""
    timing = LineTiming(baudrate, 11)
    answer = response_length(bytes((3, 0, 0)) + registers.to_bytes(2, "big"))
    cycle = timing.frame_time(_REQUEST_FRAME + answer) + 2 * timing.t35 + turnaround
    return 1.0 / cycle


def _plant(transport: str, baudrate: int, link: Path, registers: int, delay: float = 0) -> str:
    serial = f"serial: {{port: pty, link: {link}, baudrate: {baudrate}, stop_bits: 2}}"
    slow = f"    faults: [{{kind: slow, delay: {delay * 1000:.3f}ms}}]\n" if delay else ""
    return (
        "name: bench\ntick: 1s\nslaves:\n"
        f"  - name: line\n    transport: {transport}\n    port: 0\n    {serial}\n"
        f"    units:\n      - unit_id: 1\n        size: {max(registers, 2)}\n"
        "        points: [{name: v, ref: 40001, type: uint16, value: 7}]\n" + slow
    )


@contextlib.asynccontextmanager
async def _simulator(plant: str) -> AsyncIterator[str]:
    """Serve `plant` in a child process; yields the line of its first slave as printed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plant.yaml"
        path.write_text(plant, encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulators", "-c", str(path), stdout=asyncio.subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            lines = [await process.stdout.readline(), await process.stdout.readline()]
            if process.returncode is not None:
                raise RuntimeError("the simulator did not start: " + b"".join(lines).decode())
            yield lines[1].decode()
        finally:
            process.terminate()
            await process.wait()


async def _back_to_back(read: Callable[[], object], seconds: float) -> tuple[float, float]:
    """(requests per second, CPU seconds per request) of `read` called back to back."""
    for _ in range(20):  # warm-up
        await read()  # type: ignore[misc]
    count, cpu, started = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        await read()  # type: ignore[misc]
        count += 1
    wall = time.perf_counter() - started
    return count / wall, (time.process_time() - cpu) / count


async def _rtu_run(baudrate: int, spec: RtuSpec) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / "line"
        async with _simulator(_plant("rtu", baudrate, link, spec.registers)):
            settings = PortSettings(str(link), baudrate, "none", 2, 8)

            async def opener(factory: Callable[[], asyncio.Protocol]) -> asyncio.BaseTransport:
                return await open_serial(settings, factory)

            line = RtuLine(str(link), opener, connect_timeout=2.0, timing=LineTiming(baudrate, 11))
            await line.connect()
            try:

                async def read() -> bytes:
                    return await line.read(
                        Table.HOLDING_REGISTER, 1, 0, spec.registers, timeout=1.0
                    )

                return await _back_to_back(read, spec.seconds)
            finally:
                await line.close()


async def _tcp_run(spec: RtuSpec, delay: float) -> float:
    """CPU per request of the same reads over Modbus TCP, each answer `delay` late."""
    plant = _plant("tcp", 19200, Path(os.devnull), spec.registers, delay)
    async with _simulator(plant) as where:
        port = int(where.split()[1].rsplit(":", 1)[1])
        client = ModbusClient("127.0.0.1", port, connect_timeout=2.0)
        await client.connect()
        try:

            async def read() -> bytes:
                return await client.read(Table.HOLDING_REGISTER, 1, 0, spec.registers, timeout=1.0)

            return (await _back_to_back(read, spec.seconds))[1]
        finally:
            await client.close()


async def bench_rtu(spec: RtuSpec) -> Report:
    """The `gateway bench rtu` workload."""
    report = Report(
        "rtu",
        {"bauds": list(spec.bauds), "registers": spec.registers, "seconds": spec.seconds,
         "runs": spec.runs},
    )  # fmt: skip
    for baudrate in spec.bauds:
        best = theoretical_rate(baudrate, spec.registers)
        # TCP answers paced like the line's: the same wake-ups per request, so the
        # comparison is of the protocols' work, not of how often the process sleeps.
        tcp = [await _tcp_run(spec, 1 / best) for _ in range(spec.runs)]
        tcp_cpu = sorted(tcp)[len(tcp) // 2]
        runs = [await _rtu_run(baudrate, spec) for _ in range(spec.runs)]
        report.add(f"{baudrate} baud: theoretical", "req/s", [best])
        report.add(f"{baudrate} baud: achieved", "req/s", [rate for rate, _ in runs])
        report.add(
            f"{baudrate} baud: of theoretical", "%", [100 * rate / best for rate, _ in runs], "≥ 90"
        )
        report.add(f"{baudrate} baud: CPU per request", "µs", [cpu * 1e6 for _, cpu in runs])
        report.add(f"{baudrate} baud: TCP CPU per request", "µs", [cpu * 1e6 for cpu in tcp])
        report.add(f"{baudrate} baud: CPU vs TCP", "×", [cpu / tcp_cpu for _, cpu in runs], "≤ 1.5")
    return report
