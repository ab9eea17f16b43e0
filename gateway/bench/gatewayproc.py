"""A real gateway for a benchmark: `python -m gateway run -c FILE` in a child process.

The latency, fan-out and start-up workloads measure the product as a user
runs it (configuration file, historian, OPC UA server, pollers), in its own
process, so its CPU and peak RSS are read from /proc for that process alone
and the clients and slaves cannot borrow its cycles unnoticed.

The child's log (stderr) is drained for the whole run: the endpoint URL comes
from its "OPC UA server listening on …" line, and every WARNING/ERROR line is
kept, because the bus logs its dropped batches there (a queue overflow would
otherwise go unseen).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

from gateway.bench.measure import process_peak_rss_mb
from gateway.errors import GatewayError
from gateway.lifecycle import Part, task_group

__all__ = ["NAMESPACE", "GatewayProcess", "duration", "gateway_config"]

#: The namespace URI of every benchmark gateway (fixed, so clients need not ask).
NAMESPACE = "urn:bench:gateway"

_LISTENING = re.compile(r"OPC UA server listening on (opc\.tcp://\S+)")
_HTTP = re.compile(r"HTTP: status page and metrics on (https?://\S+)")
_MAX_KEPT_LINES = 200


def duration(seconds: float) -> str:
    """Seconds as a configuration file writes a duration (with its unit: `100ms`)."""
    return f"{seconds * 1000:g}ms"


def gateway_config(devices: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """A complete `gateway run` configuration: OPC UA on a free port, SQLite in `folder`."""
    return {
        "gateway": {"name": "bench"},
        "opcua": {
            "endpoint": "opc.tcp://127.0.0.1:0",
            "namespace": NAMESPACE,
            "anonymous": True,
            "security": {"allow_none": True, "pki_dir": str(folder / "pki")},
        },
        "storage": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "devices": devices,
    }


class GatewayProcess(Part):
    """`gateway run` on a generated configuration while the `async with` block runs.

    `spawned` is the wall time (time.time()) just before the process was
    created; `listening` the seconds from then to the server's listening line.
    """

    def __init__(
        self,
        config: dict[str, Any],
        folder: Path,
        *,
        start_timeout: float = 120,
        profile: Path | None = None,
        profile_depth: int = 1,
    ) -> None:
        """`profile`: run under tracemalloc (memtrace.py) keeping `profile_depth` frames per
        allocation, profiles written there. Each frame kept slows the start a lot (a
        0-tag gateway: 15 s with 1, 160 s with 4 on a busy 2-core machine)."""
        self._file = folder / "gateway.yaml"  # JSON is YAML
        traced = ["-X", f"tracemalloc={profile_depth}", "-m", "gateway.bench.memtrace"]
        self._command = ["-m", "gateway"] if profile is None else [*traced, str(profile)]
        self._profile = profile
        self._profiles = 0
        self._file.write_text(json.dumps(config), encoding="utf-8")
        self._start_timeout = start_timeout
        self._process: asyncio.subprocess.Process | None = None
        self.spawned = 0.0
        self.listening = 0.0
        self.url = ""
        self.http_url = ""  # with `http:` in the config: the status page's URL
        self.problems: list[str] = []  # WARNING and ERROR lines of the gateway's log

    @property
    def pid(self) -> int:
        assert self._process is not None, "the gateway is not running"
        return self._process.pid

    def peak_rss_mb(self) -> float:
        return process_peak_rss_mb(self.pid)

    async def write_profile(self, name: str, timeout: float = 600) -> Path:
        """With `profile`: have the gateway write its memory profile now, as `name`.txt."""
        assert self._profile is not None, "the gateway runs without tracemalloc"
        self._profiles += 1
        written = self._profile / f"profile-{self._profiles}.txt"
        self._process_signal(signal.SIGUSR1)
        for _ in range(round(timeout / 0.2)):
            if written.exists():  # memtrace renames it into place when complete
                return written.rename(self._profile / f"{name}.txt")
            await asyncio.sleep(0.2)
        raise GatewayError(f"no memory profile from the gateway within {timeout:g} s")

    def _process_signal(self, signum: int) -> None:
        assert self._process is not None, "the gateway is not running"
        self._process.send_signal(signum)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Spawn `gateway run`, wait for its listening line; stop it when the block ends."""
        self.spawned = time.time()
        process = await asyncio.create_subprocess_exec(
            sys.executable, *self._command, "run", "-c", str(self._file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._process = process
        async with task_group() as group:
            try:
                listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                group.create_task(self._drain(process, listening), name="gateway log")
                async with asyncio.timeout(self._start_timeout):
                    self.url = await listening
                self.listening = time.time() - self.spawned
                yield self
            finally:
                await self._stop()  # the log ends with the process: so does the drain

    async def _drain(
        self, process: asyncio.subprocess.Process, listening: asyncio.Future[str]
    ) -> None:
        """Read the log to its end: the listening line, then warnings and errors."""
        assert process.stderr is not None
        head: list[str] = []
        while line := (await process.stderr.readline()).decode(errors="replace"):
            if not listening.done():
                head.append(line)
                if match := _HTTP.search(line):  # the HTTP server starts first
                    self.http_url = match.group(1)
                if match := _LISTENING.search(line):
                    listening.set_result(match.group(1))
            if (" WARNING " in line or " ERROR " in line or "Traceback" in line) and len(
                self.problems
            ) < _MAX_KEPT_LINES:
                self.problems.append(line.rstrip())
        if not listening.done():
            tail = "".join(head[-20:])
            listening.set_exception(GatewayError(f"the gateway exited before listening:\n{tail}"))

    async def _stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
