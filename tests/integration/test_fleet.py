"""A fleet: three `gateway run` processes, each polling its own simulated PLC, in one
PostgreSQL; one `gateway history` reads all three; on the machine's Mosquitto they
are three Sparkplug edge nodes of one group.

The gateways use the same device, tag and alarm names (three copies of one
production line), start together on an empty database (the migration runs
once, under PostgreSQL's advisory lock) and are told apart by `gateway.name`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest
from eventually import eventually
from gatewaykit import PLC_POINTS, make_plant
from mqttkit import SHARED_BROKER, Received, recorder
from sqlalchemy import func, inspect, select
from storagekit import engine_for, fresh_database

from gateway.cli import main
from gateway.storage.schema import alarm_events, readings, tags
from simulators.runtime import run_plant

pytestmark = pytest.mark.postgres

LINES = {"line1": 21.5, "line2": 22.5, "line3": 23.5}


def _points(temp: float) -> list[dict[str, object]]:
    return [{**point, "value": temp} if point["name"] == "temp" else point for point in PLC_POINTS]


def _config(folder: Path, name: str, url: str, port: int, mqtt: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"""
gateway: {{name: {name}}}
opcua:
  anonymous: true
  endpoint: "opc.tcp://127.0.0.1:0"
  security: {{pki_dir: pki-{name}}}  # each its own certificate (docs/fleet.md)
storage: {{url: '{url}', flush_interval: 100ms}}
devices:
  - name: press
    host: 127.0.0.1
    port: {port}
    scan_interval: 100ms
    tags:
      - {{name: temp, table: holding_register, address: 0, type: float32, unit: degC}}
      - {{name: level, table: holding_register, address: 100, type: float32}}
alarms:
  - {{name: press_hot, tag: press.temp, high: 22, severity: 700}}
{mqtt}""",
        encoding="utf-8",
    )
    return path


async def _start(config: Path, log: Path) -> asyncio.subprocess.Process:
    """`gateway run -c config`, its log in a file (a pipe nobody reads could fill)."""
    with log.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "-c", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip


def _exits_and_logs(processes: list[asyncio.subprocess.Process], logs: Iterable[Path]) -> str:
    """What a failure message needs: each gateway's exit code and the end of its log."""
    return "\n".join(
        f"--- {log.name} (exit code {process.returncode}):\n"
        + "\n".join(log.read_text(encoding="utf-8").splitlines()[-15:])
        for process, log in zip(processes, logs, strict=True)
    )


def _stored(url: str) -> tuple[dict[str, int], set[str]]:
    """Readings per gateway, and the gateways that journaled an alarm event (none
    while the first gateway to start is still creating the schema)."""
    count = (
        select(tags.c.gateway, func.count())
        .select_from(readings.join(tags, readings.c.tag_id == tags.c.id))
        .group_by(tags.c.gateway)
    )
    with engine_for(url) as engine, engine.connect() as connection:
        if "readings" not in inspect(connection).get_table_names():
            return {}, set()
        per_gateway = {row[0]: row[1] for row in connection.execute(count)}
        alarmed = set(connection.execute(select(alarm_events.c.gateway).distinct()).scalars())
    return per_gateway, alarmed


async def test_three_gateways_write_one_postgresql_and_one_history_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = make_plant({name: _points(temp) for name, temp in LINES.items()})
    with fresh_database("postgresql", tmp_path) as url:
        async with run_plant(plant) as running:
            configs = {
                name: _config(tmp_path, name, url, running.slave(name).port) for name in LINES
            }
            logs = {name: tmp_path / f"{name}.log" for name in LINES}
            processes = [await _start(configs[name], logs[name]) for name in LINES]
            try:

                def every_line_stored() -> bool:
                    per_gateway, alarmed = _stored(url)
                    return all(per_gateway.get(n, 0) >= 2 for n in LINES) and alarmed == {
                        "line2",
                        "line3",
                    }

                await eventually(
                    every_line_stored,
                    timeout=90,
                    what="rows of all three",
                    seen=lambda: _exits_and_logs(processes, logs.values()),
                )
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(60):
                    for process in processes:
                        await process.wait()
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
        errors = [log.read_text(encoding="utf-8") for log in logs.values()]
        assert [process.returncode for process in processes] == [0, 0, 0], errors
        assert all("Traceback" not in err for err in errors), errors

        line1 = str(configs["line1"])
        refs = ["press.temp", "line2/press.temp", "line3/press.temp"]
        assert main(["history", "-c", line1, *refs, "--format", "csv"]) == 0
        rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        assert rows[0] == ["time", "tag", "value", "status"]
        # Good readings only: on a busy machine a first scan may time out (a Bad row).
        seen = {(tag, value) for _, tag, value, status in rows[1:] if status == "Good"}
        assert seen == {(f"{n}/press.temp", str(t)) for n, t in LINES.items()}
        times = [row[0] for row in rows[1:]]
        assert times == sorted(times)  # one listing, merged by time

        # Same alarm name on every line: each gateway's own state, read from any config.
        for name, hot in (("line1", False), ("line2", True), ("line3", True)):
            assert main(["alarms", "-c", line1, "--active", "--gateway", name]) == 0
            listed = capsys.readouterr().out.splitlines()[1:]
            assert [line.split()[1] for line in listed] == (["press_hot"] if hot else []), name
        with engine_for(url) as engine, engine.connect() as connection:
            ids = connection.execute(
                select(tags.c.id).where(tags.c.device == "press", tags.c.name == "temp")
            ).all()
        assert len(ids) == 3  # one row per gateway, three distinct ids


def _metric(message: Received, name: str) -> object:
    (value,) = [m.value for m in message.sparkplug.metrics if m.name == name]
    return value


async def test_three_gateways_are_three_edge_nodes_on_one_broker(tmp_path: Path) -> None:
    """Each gateway is the edge node of its `gateway.name` (the default edge node id)
    in one group on the machine's Mosquitto; their bdSeq counters, kept in the shared
    database, are their own; each says NDEATH when stopped."""
    group = f"fleet-{uuid.uuid4().hex[:8]}"  # the shared broker: a group of our own
    host, port = SHARED_BROKER
    mqtt = f"mqtt: {{servers: ['mqtt://{host}:{port}'], sparkplug: {{group: {group}}}}}\n"
    plant = make_plant({name: _points(temp) for name, temp in LINES.items()})
    with fresh_database("postgresql", tmp_path) as url:
        async with (
            run_plant(plant) as running,
            recorder(port, f"spBv1.0/{group}/#", host=host) as seen,
        ):
            configs = {
                name: _config(tmp_path, name, url, running.slave(name).port, mqtt) for name in LINES
            }
            logs = {name: tmp_path / f"{name}.log" for name in LINES}
            processes = [await _start(configs[name], logs[name]) for name in LINES]
            try:

                def births(kind: str) -> dict[str, Received]:
                    return {m.topic.split("/")[3]: m for m in seen.of(kind)}

                await seen.until(
                    lambda: set(births("DBIRTH")) == set(LINES),
                    timeout=90,
                    message="an NBIRTH and a DBIRTH of press from each gateway",
                    details=lambda: _exits_and_logs(processes, logs.values()),
                )
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(60):
                    for process in processes:
                        await process.wait()
                await seen.until(
                    lambda: set(births("NDEATH")) == set(LINES), message="three NDEATHs"
                )
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
    errors = [log.read_text(encoding="utf-8") for log in logs.values()]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    nbirths, dbirths, ndeaths = births("NBIRTH"), births("DBIRTH"), births("NDEATH")
    assert set(nbirths) == set(LINES)
    for name, temp in LINES.items():
        assert dbirths[name].topic == f"spBv1.0/{group}/DBIRTH/{name}/press"
        assert _metric(dbirths[name], "temp") == temp
        # A fresh database: each edge node's first connect, whatever the others did.
        assert _metric(nbirths[name], "bdSeq") == _metric(ndeaths[name], "bdSeq") == 0
