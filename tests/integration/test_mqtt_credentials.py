"""User name and password: accepted by the broker, or refused with a clear reason (never logged)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, plc_device
from mqttkit import mosquitto, mqtt_rig

from gateway.mqtt.state import ConnectionState


async def _until(predicate: Any, message: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


def _password_file(path: Path, user: str, password: str) -> Path:
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(path), user, password], check=True, timeout=30
    )
    return path


async def test_password_accepted_and_a_wrong_one_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    passwords = _password_file(tmp_path / "passwords", "gw", "s3cret")
    with mosquitto(tmp_path, f"password_file {passwords}\n") as broker:
        anonymous = broker.conf.read_text()
        broker.conf.write_text(anonymous.replace("allow_anonymous true", "allow_anonymous false"))
        broker.kill()
        broker.start()
        devices = lambda r: [plc_device(r)]  # noqa: E731
        good = {
            "servers": [broker.url],
            "username": "gw",
            "password": "s3cret",
            "sparkplug": {"group": "auth"},
        }
        async with mqtt_rig({"plc": PLC_POINTS}, devices, good, tmp_path) as rig:
            await _until(lambda: rig.publisher.state.state is ConnectionState.ONLINE, "online")
        caplog.set_level(logging.INFO, logger="gateway.mqtt")
        wrong = {**good, "password": "guess-again", "reconnect_max": 0.2}
        async with mqtt_rig({"plc": PLC_POINTS}, devices, wrong, tmp_path) as rig:
            state = rig.publisher.state
            await _until(lambda: "authoriz" in state.last_error.lower(), "the refusal")
            assert state.state is not ConnectionState.ONLINE
    assert "guess-again" not in caplog.text
    assert "s3cret" not in caplog.text
