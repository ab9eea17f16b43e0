"""`gateway run` as a service: systemd's notify protocol on a local socket, HTTP probes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp

URL = re.compile(r"HTTP: status page and metrics on (http://127\.0\.0\.1:\d+/)")


def _config(folder: Path, listen: str) -> Path:
    path = folder / "gateway.yaml"
    path.write_text(
        f"""
gateway: {{name: service-test}}
opcua: {{anonymous: true, endpoint: "opc.tcp://127.0.0.1:0"}}
http: {{listen: "{listen}"}}
""",
        encoding="utf-8",
    )
    return path


async def _datagrams(sock: socket.socket, until: str) -> list[str]:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    async with asyncio.timeout(60):
        while not any(message.startswith(until) for message in seen):
            seen.append((await loop.sock_recv(sock, 4096)).decode())
    return seen


async def test_run_tells_systemd_ready_pings_its_watchdog_and_says_stopping(
    tmp_path: Path,
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        systemd.setblocking(False)
        environ = {
            **os.environ,
            "NOTIFY_SOCKET": str(tmp_path / "notify"),
            "WATCHDOG_USEC": "200000",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "-c", str(_config(tmp_path, "127.0.0.1:0")),
            stderr=asyncio.subprocess.PIPE, env=environ,
        )  # fmt: skip
        try:
            ready = await _datagrams(systemd, "READY=1")
            status = ready[-1].split("\n")
            assert status[0] == "READY=1"
            assert re.fullmatch(
                r"STATUS=0 device\(s\), 0 tag\(s\); OPC UA opc\.tcp://\S+:\d+; "
                r"status page http://127\.0\.0\.1:\d+/",
                status[1],
            ), status
            url = status[1].rsplit(" ", 1)[1]
            async with aiohttp.ClientSession() as client:
                async with client.get(url + "readyz") as response:
                    assert response.status == 200
                async with client.get(url + "healthz") as response:
                    assert await response.text() == "ok\n"
            watchdog = await _datagrams(systemd, "WATCHDOG=1")
            assert watchdog[-1] == "WATCHDOG=1"
            process.send_signal(signal.SIGTERM)
            stopping = await _datagrams(systemd, "STOPPING=1")
            assert set(stopping) <= {"WATCHDOG=1", "STOPPING=1"}
            async with asyncio.timeout(30):
                _, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = err.decode()
    assert process.returncode == 0, text
    assert URL.search(text), text
    assert "Traceback" not in text


async def test_run_with_the_http_port_taken_says_so_in_one_line(tmp_path: Path) -> None:
    taken = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "-c",
            str(_config(tmp_path, f"127.0.0.1:{port}")),
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
    assert len(errors) == 1, text
    assert errors[0].startswith(f"error: HTTP: cannot listen on http://127.0.0.1:{port}: ")
    assert "Choose another with http.listen" in errors[0]
