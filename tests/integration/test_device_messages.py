"""What a user reads about a failing device: words, said once, one line per retry.

Real TCP to a real simulated PLC (or to a closed port); the log is captured
as `gateway run` writes it (INFO and up).
"""

from __future__ import annotations

import logging
import re

import pytest
from gatewaykit import PLC_POINTS, plc_device, rig, wait_for

from gateway.modbus.health import DeviceState

#: Internal class names that must not reach a log line or _Status.LastError.
CLASS_NAMES = re.compile(
    r"\b(LinkDown|DeviceUnreachable|DeviceTimeout|DeviceError|MalformedResponse|ModbusException)\b"
)


def device_lines(caplog: pytest.LogCaptureFixture, device: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.INFO and record.getMessage().startswith(f"device {device}:")
    ]


def said_once(text: str, where: str) -> bool:
    return text.count(where) <= 1 and "failed: connect to" not in text


async def test_a_refused_device_logs_one_line_per_retry_in_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.modbus")

    def devices(running: object) -> list[dict[str, object]]:
        return [plc_device(running, port=1, demote_after=3, demote_for="100ms")]  # type: ignore[arg-type]

    async with rig({"plc": PLC_POINTS}, devices) as t:
        health = t.acquisition.health("plc")
        await wait_for(lambda: health.errors >= 7, message="seven failed attempts")
        lines = device_lines(caplog, "plc")
        errors = health.errors
    refused = "connect to 127.0.0.1:1 failed: connection refused"
    assert health.last_error == refused
    assert len(lines) == errors, lines  # the failure says it all: no "backoff → connecting"
    for line in lines:
        assert re.fullmatch(rf"device plc: connecting → (backoff|demoted): {refused}", line), line


async def test_a_plc_that_drops_off_the_network_is_reported_in_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The demo's minute 5: a connected PLC goes offline, the reconnects are refused."""
    caplog.set_level(logging.INFO, logger="gateway.modbus")
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, demote_after=0)]) as t:
        health = t.acquisition.health("plc")
        await wait_for(lambda: health.state is DeviceState.OK, message="connected")
        where = f"127.0.0.1:{t.plant.slave('plc').port}"
        await t.plant.slave("plc").go_offline()
        await wait_for(lambda: health.errors >= 4, message="four failures while offline")
        lines = device_lines(caplog, "plc")
        last_errors = {health.last_error}
        await t.plant.slave("plc").go_online()
        await wait_for(lambda: health.state is DeviceState.OK, message="back")
        after = device_lines(caplog, "plc")
    failures = [line for line in lines if "→ backoff" in line]
    assert len(failures) >= 4
    for text in [*failures, *last_errors]:
        assert not CLASS_NAMES.search(text), text
        assert said_once(text, where), text
    assert not [line for line in after if line.endswith("→ connecting")]
    # ok only once the PLC answered again, said in words (no class names)
    assert after[-1].startswith("device plc: connecting → ok: answered in ")
    assert not CLASS_NAMES.search(after[-1])
