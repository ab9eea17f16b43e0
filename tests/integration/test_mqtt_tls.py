"""mqtts://: the broker's certificate checked against `tls.ca`; a wrong CA is a clear error."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, plc_device
from mqttkit import mosquitto, mqtt_rig

from gateway.mqtt.state import ConnectionState


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _authority(folder: Path, name: str) -> None:
    """A CA `name`-ca.pem and a server certificate for 127.0.0.1 signed by it."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name} CA",
        "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem", cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", f"{name}-server.key", "-out", f"{name}-server.csr", cwd=folder,
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509", "-req", "-in", f"{name}-server.csr", "-CA", f"{name}-ca.pem",
        "-CAkey", f"{name}-ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "san.ext", "-out", f"{name}-server.pem", cwd=folder,
    )  # fmt: skip


async def _until(predicate: Any, message: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


async def test_mqtts_with_the_brokers_ca_and_refused_with_another(tmp_path: Path) -> None:
    if shutil.which("openssl") is None or shutil.which("mosquitto") is None:
        pytest.skip("openssl and mosquitto are needed")
    _authority(tmp_path, "good")
    _authority(tmp_path, "other")
    tls = (
        f"cafile {tmp_path / 'good-ca.pem'}\ncertfile {tmp_path / 'good-server.pem'}\n"
        f"keyfile {tmp_path / 'good-server.key'}\n"
    )
    with mosquitto(tmp_path, tls, scheme="mqtts") as broker:
        url = broker.url
        good = {"servers": [url], "tls": {"ca": "good-ca.pem"}, "sparkplug": {"group": "tls"}}
        devices = lambda r: [plc_device(r)]  # noqa: E731
        async with mqtt_rig({"plc": PLC_POINTS}, devices, good, tmp_path) as rig:
            state = rig.publisher.state
            await _until(lambda: state.state is ConnectionState.ONLINE, "online over TLS")
            assert state.server == url
        other = {**good, "tls": {"ca": "other-ca.pem"}, "reconnect_max": 0.2}
        async with mqtt_rig({"plc": PLC_POINTS}, devices, other, tmp_path) as rig:
            state = rig.publisher.state
            await _until(lambda: "certificate verify failed" in state.last_error, "a refusal")
            assert state.state is not ConnectionState.ONLINE
