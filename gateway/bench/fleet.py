"""Simulated slaves for a benchmark, served by `python -m simulators scale` in a child process."""

from __future__ import annotations

import asyncio
import re
import sys
from types import TracebackType
from typing import Self

from gateway.errors import GatewayError

__all__ = ["ScaleFleet"]

_ADDRESS = re.compile(r"^\s+(\S+)\s+([\d.]+):(\d+)\s+unit (\d+)")


class ScaleFleet:
    """N slaves × M float32 registers with a fraction changing per tick, in another process."""

    def __init__(
        self,
        *,
        slaves: int,
        registers: int,
        change: float,
        tick: float,
        pattern: str = "spread",
        toggle: float | None = None,
    ) -> None:
        self._args = [
            "-m", "simulators", "scale",
            "--slaves", str(slaves),
            "--registers", str(registers),
            "--change", str(change),
            "--tick", str(tick),
            "--pattern", pattern,
        ]  # fmt: skip
        if toggle is not None:
            self._args += ["--toggle", str(toggle)]
        self._expected = slaves
        self._process: asyncio.subprocess.Process | None = None
        self.addresses: list[tuple[str, int]] = []

    async def __aenter__(self) -> Self:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *self._args, stdout=asyncio.subprocess.PIPE
        )
        self._process = process
        assert process.stdout is not None
        try:
            async with asyncio.timeout(60):
                while len(self.addresses) < self._expected:
                    line = (await process.stdout.readline()).decode()
                    if not line:
                        raise GatewayError("the simulator exited before printing its slaves")
                    if match := _ADDRESS.match(line):
                        self.addresses.append((match.group(2), int(match.group(3))))
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
