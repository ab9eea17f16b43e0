"""`gateway alarms` on a journal written by a whole running gateway (app wiring included)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from alarmkit import PUMP_ALARM, TEMP_ALARM, journal_of
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, make_plant, wait_for

from gateway.alarms import AlarmState
from gateway.app import Gateway
from gateway.cli import main
from gateway.config import load_config
from simulators.runtime import run_plant


def _write_config(folder: Path, port: int) -> Path:
    document: dict[str, Any] = {
        "gateway": {"name": "alarm-cli"},
        "opcua": {
            "endpoint": "opc.tcp://127.0.0.1:0",
            "anonymous": True,
            "security": {"pki_dir": "pki"},
        },
        "storage": {"url": "sqlite:///alarms.db", "flush_interval": "50ms"},
        "devices": [
            {
                "name": "plc",
                "host": "127.0.0.1",
                "port": port,
                "tags": PLC_TAGS,
                **FAST_DEVICE,
                "scan_interval": "50ms",
            }
        ],
        "alarms": [TEMP_ALARM, PUMP_ALARM],
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
async def journaled(tmp_path: Path) -> Path:
    """A config whose database holds a journal: temp_alarm acked at high_high, pump_on back."""
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        path = _write_config(tmp_path, running.slave("plc").port)
        unit = running.slave("plc").unit(1)
        async with Gateway(load_config(path).config, config_dir=tmp_path) as gateway:
            engine = gateway.alarms
            unit.set("temp", 45.0)
            await wait_for(lambda: engine.snapshot("temp_alarm").active, message="temp alarm")
            engine.acknowledge("temp_alarm", user="carol", comment="looking, now")
            unit.set("pump", True)
            await wait_for(lambda: engine.snapshot("pump_on").active, message="pump alarm")
            unit.set("pump", False)
            await wait_for(
                lambda: engine.snapshot("pump_on").state is AlarmState.RTN_UNACK, message="rtn"
            )
            await journal_of(gateway.historian, "pump_on", 2)
    return path


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_journal_as_csv_oldest_first_and_by_alarm(
    journaled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alarms", "-c", str(journaled), "--format", "csv"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert rows[0] == [
        "time",
        "alarm",
        "transition",
        "state",
        "limit",
        "severity",
        "value",
        "message",
        "user",
        "comment",
    ]
    assert [row[1:] for row in rows[1:]] == [
        [
            "temp_alarm",
            "activated",
            "active_unacked",
            "high_high",
            "700",
            "45",
            "Temperature 45 degC beyond 40",
            "",
            "",
        ],
        [
            "temp_alarm",
            "acknowledged",
            "active_acked",
            "high_high",
            "700",
            "45",
            "Temperature 45 degC beyond 40",
            "carol",
            "looking, now",
        ],
        ["pump_on", "activated", "active_unacked", "", "500", "1", "plc.pump is true", "", ""],
        [
            "pump_on",
            "cleared",
            "rtn_unacked",
            "",
            "500",
            "0",
            "plc.pump back to normal: false",
            "",
            "",
        ],
    ]
    assert all(row[0].endswith("+00:00") for row in rows[1:])  # UTC
    assert [row[0] for row in rows[1:]] == sorted(row[0] for row in rows[1:])

    assert main(["alarms", "-c", str(journaled), "--alarm", "pump_on", "--format", "csv"]) == 0
    assert [row[2] for row in _csv(capsys.readouterr().out)[1:]] == ["activated", "cleared"]


def test_active_alarms_and_time_filters_as_a_table(
    journaled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alarms", "-c", str(journaled), "--active"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "time", "alarm", "transition", "state", "limit", "severity", "value", "message"
    ]  # fmt: skip
    assert [line.split()[1:6] for line in lines[1:]] == [
        ["pump_on", "cleared", "rtn_unacked", "500", "0"],  # no limit: a discrete alarm
        ["temp_alarm", "acknowledged", "active_acked", "high_high", "700"],
    ]
    assert lines[2].endswith("Temperature 45 degC beyond 40")

    assert main(["alarms", "-c", str(journaled), "--since", "-1h", "--until", "now"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5  # header + 4 events
    assert main(["alarms", "-c", str(journaled), "--since", "1h"]) == 0  # relative: -1h too
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert main(["alarms", "-c", str(journaled), "--since", "2999-01-01T00:00Z"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # the header only


def test_user_mistakes_get_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_config(tmp_path, 1)
    assert main(["alarms", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "no database at" in err
    assert "Traceback" not in err

    assert main(["alarms", "-c", str(path), "--active", "--since", "-1h"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["alarms", "-c", str(path), "--since", "yesterday"]) == 2
    assert "expected ISO 8601" in capsys.readouterr().err


def test_table_columns_stay_aligned_with_a_long_alarm_name(
    journaled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(journaled.read_text())
    long_name = "compressor_discharge_pressure_high"  # wider than the default column
    document["alarms"].append({**PUMP_ALARM, "name": long_name})
    journaled.write_text(yaml.safe_dump(document, sort_keys=False))
    for extra in ([], ["--active"]):
        assert main(["alarms", "-c", str(journaled), *extra]) == 0
        header, *rows = capsys.readouterr().out.splitlines()
        column = header.index("state" if extra else "transition")
        assert header.index("alarm") + len(long_name) < column
        assert rows
        assert all(row[column - 2 : column] == "  " and row[column] != " " for row in rows)
