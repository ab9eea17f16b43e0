"""Long work shows progress: history exports on a terminal, building a large address space."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pty
import sys
from pathlib import Path
from typing import Any

import pytest
from opcuakit import opc_rig

from gateway.cli.progress import CHECK_EVERY, Progress
from gateway.config import load_config
from gateway.model import Status
from gateway.opcua import server as opcua_server
from gateway.storage.database import Database
from gateway.storage.rows import encode_value, to_us
from gateway.storage.tagsync import tag_infos

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_redraws_the_count_at_most_every_interval_then_the_total() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress("values", stream=out, enabled=True, interval=0.5, clock=clock)
    progress.advance(CHECK_EVERY - 1)
    clock.now += 1
    progress.advance()  # the clock is read once per CHECK_EVERY items
    assert out.getvalue() == f"\r{CHECK_EVERY:,} values…"
    progress.advance(CHECK_EVERY)  # too soon after the last line: nothing
    assert out.getvalue().count("\r") == 1
    clock.now += 1.5
    progress.close()
    assert out.getvalue().endswith(f"\r\x1b[K{2 * CHECK_EVERY:,} values in 2.5 s\n")


def test_progress_is_silent_when_disabled() -> None:
    out = io.StringIO()
    progress = Progress("values", stream=out, enabled=False, clock=_Clock())
    progress.advance(10 * CHECK_EVERY)
    progress.close()
    assert progress.count == 10 * CHECK_EVERY
    assert out.getvalue() == ""


def _history_database(tmp_path: Path, rows: int) -> Path:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    config_file = tmp_path / "gw.yaml"
    config_file.write_text(
        f"gateway: {{name: g}}\nopcua: {{anonymous: true}}\nstorage: {{url: '{url}'}}\n"
        "devices:\n  - name: d\n    host: 127.0.0.1\n    tags:\n"
        "      - {name: temp, ref: 40001, type: float32}\n",
        encoding="utf-8",
    )
    config = load_config(config_file).config
    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    database.prepare()
    try:
        number, text = encode_value(20.5)
        database.write(
            [("d.temp", to_us(T0 + i), number, text, int(Status.GOOD)) for i in range(rows)]
        )
    finally:
        database.dispose()
    return config_file


async def test_history_export_to_a_file_reports_its_rows_on_the_terminal(tmp_path: Path) -> None:
    rows = 3 * CHECK_EVERY
    config = _history_database(tmp_path, rows)
    controller, terminal = pty.openpty()  # stderr is a terminal, stdout a file
    try:
        with (tmp_path / "out.csv").open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "history", "-c", str(config), "d.temp",
                "--format", "csv", stdout=out, stderr=terminal,
            )  # fmt: skip
            async with asyncio.timeout(60):
                code = await process.wait()
        os.close(terminal)
        terminal = -1
        shown = _read_all(controller)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert code == 0, shown
    assert len((tmp_path / "out.csv").read_text().splitlines()) == rows + 1  # and the header
    assert f"{rows:,} values in " in shown
    assert "Traceback" not in shown


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _devices(count: int) -> Any:
    return lambda running: [
        {
            "name": f"plc{index}",
            "host": "127.0.0.1",
            "port": running.slave(f"plc{index}").port,
            "tags": [{"name": "temp", "table": "holding_register", "address": 0, "type": "uint16"}],
        }
        for index in range(count)
    ]


async def test_building_the_address_space_logs_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opcua_server, "BUILD_PROGRESS_INTERVAL", 0.0)  # a line per device
    caplog.set_level(logging.INFO, logger="gateway.opcua.server")
    slaves = {f"plc{index}": [] for index in range(3)}
    async with opc_rig(slaves, _devices(3), tmp_path / "pki"):
        pass
    messages = [record.getMessage() for record in caplog.records]
    assert "building the OPC UA address space: 3 tags…" in messages
    assert "… 1 of 3 tags" in messages
    assert "… 3 of 3 tags" in messages
    assert any(m.startswith("OPC UA address space: 3 tags of 3 devices done in") for m in messages)


async def test_export_reports_its_rows_on_the_terminal(tmp_path: Path) -> None:
    rows = 3 * CHECK_EVERY
    config = _history_database(tmp_path, rows)
    controller, terminal = pty.openpty()  # stderr is a terminal; the rows go to a file
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "export", "-c", str(config), "d.*",
            "-o", str(tmp_path / "all.csv"), stdout=asyncio.subprocess.DEVNULL, stderr=terminal,
        )  # fmt: skip
        async with asyncio.timeout(60):
            code = await process.wait()
        os.close(terminal)
        terminal = -1
        shown = _read_all(controller)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert code == 0, shown
    assert len((tmp_path / "all.csv").read_text().splitlines()) == rows + 1
    assert f"{rows:,} rows in " in shown
    assert f"{rows} rows of 1 tag(s)" in shown
