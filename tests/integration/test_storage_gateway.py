"""Poll → store through the whole gateway against simulated PLCs, and kill -9 of a real process."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from pathlib import Path

from eventually import eventually
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, make_plant
from sqlalchemy import func, select
from storagekit import count_readings, database_url, engine_for, gateway_config

from gateway.app import Gateway
from gateway.bus import Bus
from gateway.model import Status, TagValue
from gateway.storage import Historian
from gateway.storage.schema import readings
from simulators.runtime import RunningPlant, run_plant

__all__ = ["database_url"]

_MODES = {
    "level": {"storage": "every_scan"},
    "temp": {"storage": "sampled", "sample_interval": "200ms"},
}


def _device(running: RunningPlant) -> dict[str, object]:
    slave = running.slave("plc")
    tags = [{**tag, **_MODES.get(tag["name"], {})} for tag in PLC_TAGS]
    return {"name": "plc", "host": slave.host, "port": slave.port, "tags": tags, **FAST_DEVICE}


async def _history(gateway: Gateway, key: str) -> list[TagValue]:
    return (await gateway.historian.read_raw(key, limit=10_000)).values


async def test_polled_values_are_stored_per_storage_mode_and_flushed_on_stop(
    database_url: str,
) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = gateway_config(database_url, devices=[_device(running)], flush_interval="50ms")
        gateway = Gateway(config)
        async with gateway:
            historian = gateway.historian

            async def all_stored() -> bool:
                values = await historian.latest()
                return len(values) == 10 and all(v.status is Status.GOOD for v in values)

            await eventually(all_stored, timeout=10, what="every tag stored Good")
            stored = {value.tag: value.value for value in await historian.latest()}
            assert stored == {
                "plc.temp": 21.5,
                "plc.flow": 3.25,
                "plc.run": True,
                "plc.fault": False,
                "plc.ready": True,
                "plc.setpoint": 50.0,
                "plc.mode": 1,
                "plc.label": "AB12",
                "plc.level": 7.0,
                "plc.pump": False,
            }
            running.slave("plc").unit(1).set("mode", 7)

            async def mode_changed() -> bool:
                return [v.value for v in await _history(gateway, "plc.mode")] == [1, 7]

            async def repeated() -> bool:  # constant, yet repeated
                return len(await _history(gateway, "plc.level")) >= 4

            await eventually(mode_changed, timeout=5, what="mode change stored")
            await eventually(repeated, timeout=5, what="every_scan rows")
        counters = historian.counters
        assert counters.rows_written == counters.rows_received  # the stop flushed everything
        assert counters.rows_dropped == 0
        assert count_readings(database_url) == counters.rows_written

    async with Historian(config, Bus()) as reopened:  # what was stored is all there
        level = (await reopened.read_raw("plc.level")).values
        temp = (await reopened.read_raw("plc.temp")).values
        pump = (await reopened.read_raw("plc.pump")).values
    assert len(level) >= 4
    assert {v.value for v in level} == {7.0}
    times = [round((v.source_time or 0) * 1e6) for v in temp]
    assert times
    assert all(t % 200_000 == 0 for t in times)  # samples on 200 ms wall-clock slots
    assert [v.value for v in pump] == [False]  # on_change: one row while unchanged


_COMMITTED = re.compile(r"storage: batch (\d+) committed: (\d+) rows \((\d+) new\), last ts (\d+)")


def _run_config(path: Path, url: str, port: int) -> Path:
    tags = "\n".join(
        f"      - {{name: t{i}, table: holding_register, address: {2 * i}, type: float32, "
        "storage: every_scan}"
        for i in range(4)
    )
    path.write_text(
        f"""
gateway: {{name: kill-test}}
opcua: {{anonymous: true, endpoint: "opc.tcp://127.0.0.1:0"}}
storage: {{url: '{url}', flush_interval: 50ms, batch_size: 20}}
devices:
  - name: plc
    host: 127.0.0.1
    port: {port}
    scan_interval: 20ms
    tags:
{tags}
""",
        encoding="utf-8",
    )
    return path


async def test_kill_9_leaves_a_database_holding_every_committed_batch(
    database_url: str, tmp_path: Path
) -> None:
    committed: list[tuple[int, int, int, int]] = []
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = _run_config(tmp_path / "gw.yaml", database_url, running.slave("plc").port)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "-vv", "run", "-c", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        log: list[str] = []
        try:
            async with asyncio.timeout(20):
                while len(committed) < 8:
                    line = (await process.stderr.readline()).decode()
                    assert line, f"the gateway exited early: {''.join(log[-20:])}"
                    log.append(line)
                    if match := _COMMITTED.search(line):
                        committed.append(tuple(int(g) for g in match.groups()))  # type: ignore[arg-type]
        finally:
            process.kill()  # SIGKILL: no flush, no clean close
            await process.wait()
    assert process.returncode == -9

    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:  # recovery from the WAL happens here
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    new_rows = sum(batch[2] for batch in committed)
    assert [batch[0] for batch in committed] == list(range(1, len(committed) + 1))
    assert count_readings(database_url) >= new_rows
    with engine_for(database_url) as engine, engine.connect() as connection:
        for *_, last_ts in committed:  # the newest row of every logged batch is stored
            found = connection.execute(
                select(func.count()).select_from(readings).where(readings.c.ts == last_ts)
            ).scalar_one()
            assert found >= 1, f"row at {last_ts} of a committed batch is missing"
