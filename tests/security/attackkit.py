"""Test kit of the attack suite: a real `gateway run` process, polling a simulated PLC.

The gateway runs as a child process, so an attack that keeps the test
process's own event loop busy cannot pass for a stalled gateway (or the
reverse). Its log goes to a file in the test's folder: the listening line
with the real port is read from there, and the lines an attack produced; no
pipe can fill up and block it.

Two configurations (`MODES`):

- "secure": no None endpoint, no anonymous access; users `operator` and
  `viewer`, passwords from environment variables.
- "demo": as the demo runs: the None endpoint and anonymous viewers too.

Legitimate clients use Basic256Sha256/SignAndEncrypt with a client
certificate placed in pki/trusted before the gateway starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.ua.certificates import make_certificate

__all__ = [
    "MODES",
    "NAMESPACE",
    "OPERATOR_PASSWORD",
    "VIEWER_PASSWORD",
    "Gateway",
    "Identity",
    "make_identity",
    "rss_peak",
    "running_gateway",
    "silent_port",
]

MODES = ("secure", "demo")
NAMESPACE = "urn:test:attack"
GATEWAY_NAME = "gw"
OPERATOR_PASSWORD = "operator-Pa55-word"
VIEWER_PASSWORD = "viewer-Pa55-word"
#: The passwords reach the gateway through its environment, as `${VAR}` in the file.
PASSWORD_ENV = {
    "ATTACK_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
    "ATTACK_VIEWER_PASSWORD": VIEWER_PASSWORD,
}
_LISTENING = re.compile(r"OPC UA server listening on opc\.tcp://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Identity:
    """A client application certificate on disk (the legitimate clients' one)."""

    uri: str
    certificate: Path
    key: Path


def make_identity(folder: Path, name: str) -> Identity:
    uri = f"urn:test:client:{name}"
    certificate, key = make_certificate(uri, name, client=True)
    folder.mkdir(parents=True, exist_ok=True)
    identity = Identity(uri, folder / f"{name}.der", folder / f"{name}.pem")
    identity.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    identity.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return identity


def silent_port() -> socket.socket:
    """A listening socket that never accepts: connections open, requests are never answered.

    The kernel completes the handshakes up to the backlog, so a device pointed
    at it connects and then times out on every request (it never answers).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


def gateway_config(
    mode: str, plc_port: int, folder: Path, *, dead_port: int | None = None
) -> dict[str, Any]:
    """The `gateway run` file of a configuration.

    `dead_port`: also a device there (one that never answers) and an alarm.
    """
    secure = mode == "secure"
    devices: list[dict[str, Any]] = [
        {
            "name": "plc",
            "host": "127.0.0.1",
            "port": plc_port,
            "scan_interval": "150ms",
            "timeout": "2s",
            "tags": [
                {
                    "name": "setpoint",
                    "table": "holding_register",
                    "address": 0,
                    "type": "float32",
                    "writable": True,
                    "range": [0, 100],
                },
                {"name": "wave", "table": "holding_register", "address": 2, "type": "float32"},
            ],
        }
    ]
    config: dict[str, Any] = {
        "gateway": {"name": GATEWAY_NAME},
        "opcua": {
            "endpoint": "opc.tcp://127.0.0.1:0",
            "namespace": NAMESPACE,
            "security": {
                "policies": ["Basic256Sha256"],
                "modes": ["SignAndEncrypt"],
                "allow_none": not secure,
                "pki_dir": "pki",
            },
            "anonymous": not secure,
            "users": [
                {
                    "name": "operator",
                    "password": "${ATTACK_OPERATOR_PASSWORD}",
                    "role": "operator",
                },
                {"name": "viewer", "password": "${ATTACK_VIEWER_PASSWORD}", "role": "viewer"},
            ],
        },
        "storage": {"url": f"sqlite:///{folder / 'gateway.db'}"},
        "devices": devices,
    }
    if dead_port is not None:
        devices.append(
            {
                "name": "dead",
                "host": "127.0.0.1",
                "port": dead_port,
                "scan_interval": "1s",
                "timeout": "500ms",
                "tags": [
                    {"name": "x", "table": "holding_register", "address": 0, "type": "uint16"}
                ],
            }
        )
        # Active from the start (setpoint 10 < 20) and never acknowledged.
        config["alarms"] = [{"name": "setpoint_low", "tag": "plc.setpoint", "low": 20}]
    return config


@dataclass
class Gateway:
    """A running `gateway run` process and what a test needs to attack it."""

    mode: str
    folder: Path
    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    @property
    def secure(self) -> bool:
        return self.mode == "secure"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def server_certificate(self) -> Path:
        return self.folder / "pki" / "own" / "cert.der"

    def log_mark(self) -> int:
        """A position in the log: `log_since(mark)` is everything written after it."""
        return self.log_path.stat().st_size

    def log_since(self, mark: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")

    async def wait_log(self, mark: int, done: Callable[[str], bool], timeout: float = 5.0) -> str:
        """The log written after `mark`, once `done(text)` holds or `timeout` s passed."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(mark)
            if done(text) or time.monotonic() > deadline:
                return text
            await asyncio.sleep(0.05)  # polling a file written by another process

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory of the gateway process (VmRSS, or VmHWM: its peak), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def alive(self) -> bool:
        return self.process.returncode is None


@dataclass
class Peak:
    mb: float


@asynccontextmanager
async def rss_peak(gateway: Gateway) -> AsyncIterator[Peak]:
    """The gateway's highest VmRSS while the block runs (sampled every 50 ms), in MB."""
    peak = Peak(gateway.rss_mb())

    async def sample() -> None:
        while True:
            peak.mb = max(peak.mb, gateway.rss_mb())
            await asyncio.sleep(0.05)

    async with asyncio.TaskGroup() as group:
        sampler = group.create_task(sample())
        try:
            yield peak
        finally:
            sampler.cancel()
    peak.mb = max(peak.mb, gateway.rss_mb())


def _text(path: Path) -> str:
    """What a child process wrote to `path` so far (nothing before the file exists)."""
    return path.read_text(errors="replace") if path.exists() else ""


async def _wait_for_match(
    path: Path, pattern: re.Pattern[str], process: asyncio.subprocess.Process, what: str
) -> re.Match[str]:
    """Poll the output file of `process` until `pattern` shows up; fail on exit or timeout."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        text = _text(path)
        if match := pattern.search(text):
            return match
        if process.returncode is not None or time.monotonic() > deadline:
            why = "exited" if process.returncode is not None else f"not up in {START_TIMEOUT:g} s"
            pytest.fail(f"{what} {why}:\n{text[-3000:]}")
        await asyncio.sleep(0.05)  # polling a file written by another process


@asynccontextmanager
async def _child(
    argv: list[str], output: Path, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process with stdout and stderr in `output`, killed at exit.

    Killed, not stopped: nothing of a test's gateway is kept, and a graceful
    stop would cost each of the suite's 22 gateways a second.
    """
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env={**os.environ, **env},
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@asynccontextmanager
async def running_gateway(
    mode: str, folder: Path, identity: Identity, plc_port: int, *, dead: bool = False
) -> AsyncIterator[Gateway]:
    """`gateway run -c FILE` in `mode`, polling the PLC at `plc_port`; killed at exit.

    `dead`: also a device that never answers, and an alarm (finding 8).
    """
    with contextlib.ExitStack() as stack:
        dead_port = None
        if dead:
            dead_port = stack.enter_context(silent_port()).getsockname()[1]
        config = gateway_config(mode, plc_port, folder, dead_port=dead_port)
        config_file = folder / "gateway.yaml"
        config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        trusted = folder / "pki" / "trusted"
        trusted.mkdir(parents=True, exist_ok=True)
        shutil.copy(identity.certificate, trusted / identity.certificate.name)
        log = folder / "gateway.log"
        argv = [sys.executable, "-m", "gateway", "run", "-c", str(config_file)]
        async with _child(argv, log, **PASSWORD_ENV) as process:
            listening = await _wait_for_match(log, _LISTENING, process, "the gateway")
            yield Gateway(mode, folder, process, int(listening.group(1)), log)
