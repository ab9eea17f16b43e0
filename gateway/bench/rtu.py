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

Each comparison has a floor beside it: the same exchanges on the same line
by a loop with no gateway code (a raw frame written, the answer's bytes
counted; on the RTU line the next request sent by a timerfd t3.5 after the
answer, as the Modbus serial rule and `RtuLine` do). The floor is what the
operating system charges for the wake-ups and the descriptor work; the
figure above it is the gateway's own. An RTU exchange wakes the process
twice (the answer, the end of the t3.5 silence), a TCP one once, so where a
wake-up costs more than the protocol work (virtual machines) the RTU floor
alone can exceed 1.5× the whole TCP request.
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
from gateway.finetimer import FineTimer
from gateway.modbus.client import ModbusClient
from gateway.modbus.rtuline import RtuLine
from gateway.model import Table
from gateway.rtuframe import LineTiming, frame, response_length
from gateway.serialio import PortSettings, open_serial

__all__ = ["RtuSpec", "bench_rtu", "theoretical_rate"]

_REQUEST_FRAME = 8
_WARM_UP = 20  # requests before the count starts
#: CPU per request below which a difference of two measured figures is noise.
_MEASURABLE = 1e-6


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
    for _ in range(_WARM_UP):
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


class _AnswerCounter(asyncio.Protocol):
    """The floor loops' whole protocol: count an answer's bytes, then wake the caller."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.waiter: asyncio.Future[None] | None = None
        self._got = 0

    def data_received(self, data: bytes) -> None:
        self._got += len(data)
        waiter = self.waiter
        if self._got >= self.size and waiter is not None:
            self._got, self.waiter = 0, None
            waiter.set_result(None)


def _read_pdu(registers: int) -> bytes:
    return bytes((3, 0, 0)) + registers.to_bytes(2, "big")


async def _floor_rtu_run(baudrate: int, spec: RtuSpec) -> float:
    """CPU per request of a code-free loop on the same paced line, with the t3.5 gap."""
    pdu = _read_pdu(spec.registers)
    counter = _AnswerCounter(response_length(pdu))
    request = frame(1, pdu)
    gap = LineTiming(baudrate, 11).t35
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / "line"
        async with _simulator(_plant("rtu", baudrate, link, spec.registers)):
            settings = PortSettings(str(link), baudrate, "none", 2, 8)
            transport = await open_serial(settings, lambda: counter)
            timer = FineTimer(lambda: transport.write(request))
            loop = asyncio.get_running_loop()
            try:

                async def read() -> None:
                    counter.waiter = loop.create_future()
                    timer.arm(time.perf_counter() + gap)  # back to back: the answer was just now
                    await counter.waiter

                async with asyncio.timeout(_WARM_UP + spec.seconds + 10):
                    return (await _back_to_back(read, spec.seconds))[1]
            finally:
                timer.close()
                transport.close()


async def _floor_tcp_run(spec: RtuSpec, delay: float) -> float:
    """CPU per request of a code-free loop against the same paced TCP slave."""
    pdu = _read_pdu(spec.registers)
    counter = _AnswerCounter(7 + 2 + 2 * spec.registers)  # MBAP header, unit, PDU
    plant = _plant("tcp", 19200, Path(os.devnull), spec.registers, delay)
    async with _simulator(plant) as where:
        port = int(where.split()[1].rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(lambda: counter, "127.0.0.1", port)
        header = (len(pdu) + 1).to_bytes(2, "big") + b"\x01" + pdu
        transaction = 0
        try:

            async def read() -> None:
                nonlocal transaction
                transaction = (transaction + 1) & 0xFFFF
                counter.waiter = loop.create_future()
                transport.write(transaction.to_bytes(2, "big") + b"\0\0" + header)
                await counter.waiter

            async with asyncio.timeout(_WARM_UP + spec.seconds + 10):
                return (await _back_to_back(read, spec.seconds))[1]
        finally:
            transport.close()


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


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
        # Rounds interleave the four loops, so that a drift of the machine's state
        # (another process, the host) falls on all of them alike.
        tcp: list[float] = []
        runs: list[tuple[float, float]] = []
        floor_tcp: list[float] = []
        floor_rtu: list[float] = []
        for _ in range(spec.runs):
            tcp.append(await _tcp_run(spec, 1 / best))
            runs.append(await _rtu_run(baudrate, spec))
            floor_tcp.append(await _floor_tcp_run(spec, 1 / best))
            floor_rtu.append(await _floor_rtu_run(baudrate, spec))
        tcp_cpu = _median(tcp)
        report.add(f"{baudrate} baud: theoretical", "req/s", [best])
        report.add(f"{baudrate} baud: achieved", "req/s", [rate for rate, _ in runs])
        report.add(
            f"{baudrate} baud: of theoretical", "%", [100 * rate / best for rate, _ in runs], "≥ 90"
        )
        report.add(f"{baudrate} baud: CPU per request", "µs", [cpu * 1e6 for _, cpu in runs])
        report.add(f"{baudrate} baud: TCP CPU per request", "µs", [cpu * 1e6 for cpu in tcp])
        report.add(f"{baudrate} baud: CPU vs TCP", "×", [cpu / tcp_cpu for _, cpu in runs], "≤ 1.5")
        report.add(f"{baudrate} baud: floor, RTU", "µs", [c * 1e6 for c in floor_rtu])
        report.add(f"{baudrate} baud: floor, TCP", "µs", [c * 1e6 for c in floor_tcp])
        report.add(
            f"{baudrate} baud: floors, RTU vs TCP", "×", [c / _median(floor_tcp) for c in floor_rtu]
        )
        # The gateway's own CPU per request: each run above the floor of its own round.
        own_tcp = [cpu - floor for cpu, floor in zip(tcp, floor_tcp, strict=True)]
        own_rtu = [cpu - floor for (_, cpu), floor in zip(runs, floor_rtu, strict=True)]
        report.add(f"{baudrate} baud: gateway code, TCP", "µs", [c * 1e6 for c in own_tcp])
        report.add(f"{baudrate} baud: gateway code, RTU", "µs", [c * 1e6 for c in own_rtu])
        # A ratio of the medians, and only where TCP's own share is measurable: a round's
        # floor can exceed its run on a busy machine, and its ratio would mean nothing.
        if _median(own_tcp) > _MEASURABLE:
            report.add(
                f"{baudrate} baud: gateway code, RTU vs TCP", "×",
                [_median(own_rtu) / _median(own_tcp)],
            )  # fmt: skip
        else:
            report.notes.append(f"{baudrate} baud: the gateway's own TCP CPU is below the noise")
    return report
