"""`gateway run` as a user runs it: a real process, a simulated PLC, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from gatewaykit import PLC_POINTS, make_plant

from simulators.runtime import run_plant


def _config(path: Path, port: int, *, dead_port: int | None = None) -> Path:
    extra = ""
    if dead_port is not None:
        extra = f"""
  - name: dead
    host: 127.0.0.1
    port: {dead_port}
    timeout: 200ms
    reconnect_min: 100ms
    tags:
      - {{name: x, table: holding_register, address: 0, type: uint16}}
"""
    path.write_text(
        f"""
gateway: {{name: run-test}}
opcua: {{anonymous: true, endpoint: "opc.tcp://127.0.0.1:0"}}
devices:
  - name: plc
    host: 127.0.0.1
    port: {port}
    scan_interval: 100ms
    tags:
      - {{name: temp, table: holding_register, address: 0, type: float32}}
{extra}""",
        encoding="utf-8",
    )
    return path


async def _read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    async with asyncio.timeout(15):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                pytest.fail(f"process ended before logging {needle!r}: {''.join(seen)}")
            seen.append(line)
            if needle in line:
                return


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_run_logs_device_states_and_stops_cleanly_on_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = _config(tmp_path / "gw.yaml", running.slave("plc").port, dead_port=1)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "-c", str(config),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        seen: list[str] = []
        try:
            await _read_until(process.stderr, "2 device(s), 2 tag(s), 0 alarm(s) loaded in", seen)
            await _read_until(process.stderr, "device plc: connecting → ok", seen)
            await _read_until(process.stderr, "device dead: connecting → backoff", seen)
            process.send_signal(signum)
            async with asyncio.timeout(10):
                rest = (await process.stderr.read()).decode()
                code = await process.wait()
        finally:
            if process.returncode is None:  # a failed test leaves no gateway running
                process.kill()
                await process.wait()
    assert code == 0, "".join(seen) + rest
    assert "gateway run-test stopped" in rest
    assert "Traceback" not in "".join(seen) + rest
    assert "refused" in "".join(seen)


async def test_run_with_a_bad_config_exits_1_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("gateway: {name: g}\ndevices: [{name: d}]\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 1
    text = err.decode()
    assert f"{config}:2: devices[0]: missing required key 'host'" in text
    assert "Traceback" not in text


def test_check_into_a_closed_pipe_exits_quietly() -> None:
    """`gateway check -c FILE | head -1`: no BrokenPipeError traceback."""
    import subprocess
    import sys

    command = f"{sys.executable} -m gateway check -c examples/all-types.yaml | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GATEWAY_OPERATOR_PASSWORD": "a password of its own"},
        cwd=Path(__file__).resolve().parents[2],  # the repository: pytest may run from anywhere
    )
    assert done.stdout.startswith("examples/all-types.yaml: OK"), done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


async def test_run_warns_once_when_it_serves_a_password_published_with_the_demo(
    tmp_path: Path,
) -> None:
    """The quickstart's trap: examples/demo.yaml's opcua section with the demo's password."""
    config = tmp_path / "plant.yaml"
    config.write_text(
        "gateway: {name: g}\n"
        'opcua: {endpoint: "opc.tcp://127.0.0.1:0", users: ['
        '{name: operator, password: "${GATEWAY_OPERATOR_PASSWORD}", role: operator}, '
        '{name: viewer, password: "${GATEWAY_VIEWER_PASSWORD}"}]}\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "GATEWAY_OPERATOR_PASSWORD": "demo-operator",
        "GATEWAY_VIEWER_PASSWORD": "my own viewer password",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config), "--duration", "0.5",
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    text = err.decode()
    assert process.returncode == 0, text
    warnings = [line for line in text.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, text
    assert warnings[0].endswith(
        "WARNING gateway.run: OPC UA user(s) operator log in with a password published with "
        "the demo: anyone can log in as them; set passwords of your own (docs/security.md)"
    )
    assert text.index(warnings[0]) < text.index("OPC UA server listening")  # at start
    assert "demo-operator" not in text  # passwords are never logged


async def test_run_with_the_opcua_port_taken_says_so_in_one_line(tmp_path: Path) -> None:
    """Issue 22: asyncua's traceback used to come before the gateway's own error line."""
    taken = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    config = tmp_path / "plant.yaml"
    config.write_text(
        f'gateway: {{name: g}}\nopcua: {{anonymous: true, endpoint: "opc.tcp://127.0.0.1:{port}"}}\n',
        encoding="utf-8",
    )
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "-c", str(config),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(60):
            _, err = await process.communicate()
    finally:
        taken.close()
    text = err.decode()
    assert process.returncode == 1, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: OPC UA: cannot listen on opc.tcp://127.0.0.1:{port}: "
        f"[Errno 98] error while attempting to bind on address ('127.0.0.1', {port}): "
        "address already in use"
    ], text
    assert not [line for line in text.splitlines() if " ERROR " in line], text
