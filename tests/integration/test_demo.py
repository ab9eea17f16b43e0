"""`gateway demo` as a user runs it: a real process, a real OPC UA client, signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from asyncua import Client, ua
from demokit import (
    ENDPOINT,
    killed_at_exit,
    read_good_value,
    read_until,
    rest_and_code,
    write_as_operator,
)

ALARM_ACTIVE = re.compile(r"^status .*; 1 active alarm: compressor_high_pressure$")
#: Cleared by itself, and so still to be acknowledged: not normal yet (docs/alarms.md).
CLEARED = re.compile(
    r"^status .*; 0 active alarms; 1 cleared, unacknowledged: compressor_high_pressure$"
)
#: The banner's line with the status page's URL (on 127.0.0.1), when stdout is no terminal.
STATUS_PAGE = re.compile(r"^status page: (http://127\.0\.0\.1:\d+/)$")
#: A status line once every device of the demo plant polls fine.
ALL_OK = re.compile(
    r"^status [\d:]+: boiler ok, compressor ok, compressor_vfd ok, tank_farm ok, meter ok;"
)


async def _start(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    """`gateway demo` with its data under `tmp_path`; stderr into tmp_path/stderr.txt.

    The status page goes on any free port unless `args` name one.
    """
    http = [] if "--http-port" in args else ["--http-port", "0"]
    with (tmp_path / "stderr.txt").open("wb") as stderr:  # the child keeps its own copy
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "demo", "--data-dir", str(tmp_path / "data"),
            *http, *args, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )  # fmt: skip


@pytest.mark.timeout(180)
async def test_demo_serves_good_values_shows_status_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "0")
    assert process.stdout is not None
    seen: list[str] = []
    async with killed_at_exit(process):
        url = (
            await read_until(
                process.stdout, ENDPOINT, seen, timeout=60, errors=tmp_path / "stderr.txt"
            )
        )[1]
        value = await read_good_value(url, "boiler.water_temperature")
        assert isinstance(value.Value.Value, float)
        assert 0 < value.Value.Value < 150  # the plant's heater stays in its range
        await read_until(process.stdout, ALL_OK, seen, timeout=30)
        # The status page the banner names answers, with the demo's devices.
        page = next(m for line in seen if (m := STATUS_PAGE.match(line.rstrip("\n"))))[1]
        async with aiohttp.ClientSession() as web, web.get(page + "api/status") as answer:
            status = await answer.json()
        assert [d["name"] for d in status["devices"]["rows"]] == [
            "boiler",
            "compressor",
            "compressor_vfd",
            "tank_farm",
            "meter",  # on RTU over TCP
        ]
        # The banner's promise: the operator may write a setpoint, even on the open endpoint.
        await write_as_operator(url, "boiler.temperature_setpoint", 90.0)
        # A refused login is the client's business: the gateway's WARNING, no ERROR line.
        intruder = Client(url, timeout=10)
        intruder.set_user("operator")
        intruder.set_password("wrong")
        with pytest.raises(ua.UaStatusCodeError):
            await intruder.connect()
        with contextlib.suppress(Exception):
            await intruder.disconnect()
        # Within a minute an alarm trips and clears by itself (the compressor's cycle).
        await read_until(process.stdout, ALARM_ACTIVE, seen, timeout=60)
        await read_until(process.stdout, CLEARED, seen, timeout=60)
        process.send_signal(signal.SIGINT)
        rest, code = await rest_and_code(process, 20)
    output = "".join(seen) + rest
    errors = (tmp_path / "stderr.txt").read_text()
    assert code == 0, output + errors
    assert "gateway demo stopped" in rest
    assert "Traceback" not in output + errors
    # the gateway's own line names the user and the peer's address
    assert "login of operator from 127.0.0.1:" in errors
    assert "refused: wrong user name or password" in errors
    assert "sending service fault response" not in output + errors
    # The demo routes its alarms to a log channel: one notification line per transition.
    assert "via console: [600] compressor_high_pressure activated: " in errors
    assert "via console: [600] compressor_high_pressure cleared: " in errors
    banner = "".join(seen)
    assert "WARNING: anonymous access on an unsecured endpoint is for this demo only" in banner
    assert "operator / demo-operator" in banner
    assert f"gateway write {url} boiler.temperature_setpoint" in banner
    # The demo wrote its config and history into the data directory, nowhere else.
    data = tmp_path / "data"
    assert (data / "gateway.yaml").is_file()
    assert (data / "demo.db").is_file()
    assert (data / "pki" / "own").is_dir()
    assert sorted(os.listdir(tmp_path)) == ["data", "stderr.txt"]


async def test_demo_stops_by_itself_after_its_duration(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "0", "--duration", "2")
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    text = out.decode()
    assert process.returncode == 0, text + (tmp_path / "stderr.txt").read_text()
    assert re.search(r"^OPC UA endpoint: opc\.tcp://127\.0\.0\.1:\d+$", text, re.MULTILINE)
    assert text.rstrip().endswith("gateway demo stopped")


async def test_ctrl_c_while_starting_stops_without_the_banner(tmp_path: Path) -> None:
    """Ctrl-C during the first start (certificate generation): no "Press Ctrl-C to stop"."""
    process = await _start(tmp_path, "--port", "0")
    assert process.stdout is not None
    async with killed_at_exit(process):
        first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert first.startswith("gateway demo: starting"), first
        process.send_signal(signal.SIGINT)
        rest, code = await rest_and_code(process, 60)
    errors = (tmp_path / "stderr.txt").read_text()
    assert code == 0, rest + errors
    assert rest == "gateway demo: stopping…\ngateway demo stopped\n", rest + errors
    assert "Traceback" not in errors


async def test_demo_on_a_taken_port_says_which_and_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await _start(tmp_path, "--port", str(port))
        async with asyncio.timeout(30):
            out, _ = await process.communicate()
    errors = (tmp_path / "stderr.txt").read_text()
    assert process.returncode == 1, out.decode() + errors
    assert f"error: port {port} on 127.0.0.1 is not available" in errors
    assert "gateway demo --port N" in errors
    assert "Traceback" not in errors
    assert out == b""  # nothing started, nothing announced
    assert not (tmp_path / "data").exists()


async def test_demo_with_the_status_page_port_taken_says_which_option_to_use(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await _start(tmp_path, "--port", "0", "--http-port", str(port))
        async with asyncio.timeout(30):
            out, _ = await process.communicate()
    errors = (tmp_path / "stderr.txt").read_text()
    assert process.returncode == 1, out.decode() + errors
    assert f"error: port {port} on 127.0.0.1 is not available for the status page" in errors
    assert "gateway demo --http-port N" in errors
    assert out == b""


async def test_demo_with_a_bad_port_is_a_usage_error(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "70000")
    async with asyncio.timeout(30):
        await process.communicate()
    assert process.returncode == 2
    assert "must be 0..65535, got 70000" in (tmp_path / "stderr.txt").read_text()
