"""The simulators' command line, run as users run it: a separate Python process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import simulators

ROOT = Path(simulators.__file__).resolve().parent.parent
DEMO = ROOT / "simulators" / "plants" / "demo.yaml"
SMALL_PLANT = """
name: small
slaves:
  - name: only
    port: 0
    units:
      - unit_id: 4
        points:
          - {name: x, table: holding_register, address: 0, type: uint16, value: 3}
"""


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def test_demo_plant_runs_for_a_duration_and_prints_its_slaves() -> None:
    result = run("-m", "simulators", "-c", str(DEMO), "--duration", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "plant demo: 4 slave(s), tick 0.1s"
    assert re.search(r"^\s+boiler\s+127\.0\.0\.1:5020\s+unit 1$", result.stdout, re.M)
    assert re.search(r"^\s+compressor\s+127\.0\.0\.1:5021\s+units 1, 2$", result.stdout, re.M)
    assert re.search(r"^\s+tank_farm\s+127\.0\.0\.1:5022\s+unit 1$", result.stdout, re.M)
    meter = r"^\s+meter\s+127\.0\.0\.1:5023\s+unit 7  rtu_over_tcp$"
    assert re.search(meter, result.stdout, re.M)
    assert lines[-1] == "stopped"


def test_gateway_simulate_runs_the_same_code(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(SMALL_PLANT, encoding="utf-8")
    result = run("-m", "gateway", "simulate", "-c", str(plant), "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    assert re.search(r"only\s+127\.0\.0\.1:\d+\s+unit 4", result.stdout)


def test_a_bad_plant_file_prints_located_errors_and_exits_1(tmp_path: Path) -> None:
    plant = tmp_path / "bad.yaml"
    plant.write_text(SMALL_PLANT.replace("uint16", "unit16").replace("port: 0", "port: -1"))
    result = run("-m", "simulators", "-c", str(plant))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{plant}:5: slaves[0].port: must be at least 0, got -1",
        f"{plant}:9: slaves[0].units[0].points[0].type: 'unit16' is not one of bool, int16, "
        "uint16, int32, uint32, int64, uint64, float32, float64, string, bcd16, bcd32 "
        "(did you mean 'uint16'?)",
        f"2 error(s) in {plant}",
    ]


def test_a_port_in_use_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    plant = tmp_path / "clash.yaml"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        plant.write_text(SMALL_PLANT.replace("port: 0", f"port: {port}"), encoding="utf-8")
        result = run("-m", "simulators", "-c", str(plant), "--duration", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot serve:")
    assert "Traceback" not in result.stderr


def test_missing_arguments_are_a_usage_error() -> None:
    result = run("-m", "simulators")
    assert result.returncode == 2
    assert "give a plant file with -c PLANT" in result.stderr


async def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(SMALL_PLANT, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "-c",
        str(plant),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "press Ctrl-C to stop":
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line, "the simulator exited early"
            lines.append(line.decode().rstrip("\n"))
        port = int(re.findall(r":(\d+)", lines[1])[0])
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # it really listens
        writer.close()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr
    assert stdout.decode().strip() == "stopped"


def test_scale_command_prints_one_address_per_slave() -> None:
    result = run(
        "-m",
        "simulators",
        "scale",
        "--slaves",
        "3",
        "--registers",
        "20",
        "--change",
        "0.5",
        "--duration",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    addresses = re.findall(r"^\s+scale-(\d{3})\s+127\.0\.0\.1:(\d+)\s+unit 1$", result.stdout, re.M)
    assert [index for index, _ in addresses] == ["000", "001", "002"]
    assert len({port for _, port in addresses}) == 3
    assert "3 slave(s) x 20 holding registers (10 float32 each), 50% changing" in result.stdout


def test_scale_command_rejects_odd_register_counts() -> None:
    result = run("-m", "simulators", "scale", "--slaves", "1", "--registers", "7")
    assert result.returncode == 2
    assert "registers must be even" in result.stderr
