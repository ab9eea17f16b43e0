"""People and programs on stored history: `gateway history --aggregate`, `gateway export`
(CSV and Parquet, many tags by pattern), and `read_history` into pandas; both databases."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from storagekit import database_url, gateway_config

from gateway.analysis import read_history
from gateway.cli import main
from gateway.config import GatewayConfig
from gateway.model import Status
from gateway.storage.database import Database
from gateway.storage.rows import Row, encode_value, to_us
from gateway.storage.tagsync import tag_infos

__all__ = ["database_url"]

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z
TAGS = [
    {"name": "temp", "ref": 40001, "type": "float32"},
    {"name": "level", "ref": 40003, "type": "float32"},
    {"name": "run", "ref": 40007, "bit": 0, "type": "bool"},
]


def _config(url: str) -> GatewayConfig:
    return gateway_config(
        url, devices=[{"name": "d", "host": "127.0.0.1", "enabled": False, "tags": TAGS}]
    )


def _row(key: str, at: float, value: object, status: Status = Status.GOOD) -> Row:
    number, text = encode_value(value)  # type: ignore[arg-type]
    return (key, to_us(at), number, text, int(status))


@pytest.fixture
def config_file(database_url: str, tmp_path: Path) -> str:
    """A config file whose database holds two hours of d.temp and d.level, one row a minute."""
    config = _config(database_url)
    database = Database(config.storage, tag_infos(config), gateway="g")  # the file's name
    database.prepare()
    rows = [_row("d.temp", T0 + 60 * m, float(m % 60)) for m in range(120)]
    rows += [_row("d.level", T0 + 60 * m, 100.0 - m) for m in range(120)]
    rows.append(_row("d.level", T0 + 30, None, Status.BAD_NO_COMMUNICATION))
    rows += [_row("d.run", T0 + 60 * m, m % 2 == 0) for m in range(4)]
    database.write(rows)
    database.dispose()
    path = tmp_path / "gw.yaml"
    tags = "\n".join(f"      - {json.dumps(tag)}" for tag in TAGS)
    path.write_text(
        f"gateway: {{name: g}}\nopcua: {{anonymous: true}}\nstorage: {{url: '{database_url}'}}\n"
        f"devices:\n  - name: d\n    host: 127.0.0.1\n    tags:\n{tags}\n",
        encoding="utf-8",
    )
    return str(path)


RANGE = ["--since", "2024-05-01T08:00Z", "--until", "2024-05-01T10:00Z"]


def test_history_prints_one_row_per_interval(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["history", "-c", config_file, "d.temp", *RANGE, "--interval", "1h"]
    assert main([*args, "--aggregate", "average,min,max,count", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["time"] for r in rows] == [
        "2024-05-01T08:00:00.000000+00:00",
        "2024-05-01T09:00:00.000000+00:00",
    ]
    assert [float(r["average"]) for r in rows] == [29.5, 29.5]
    assert [(r["minimum"], r["maximum"], r["count"]) for r in rows] == [("0.0", "59.0", "60")] * 2
    assert rows[0]["average_status"] == "Good, Calculated"
    assert main([*args, "--aggregate", "average", "--format", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {
        "time": "2024-05-01T08:00:00.000000+00:00",
        "tag": "d.temp",
        "average": 29.5,
        "average_status": "Good, Calculated",
    }


def test_history_table_marks_statuses_that_are_not_good(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["history", "-c", config_file, "d.level", *RANGE, "--interval", "1h"]
    assert main([*args, "--aggregate", "average"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["time", "tag", "average"]
    assert "(UncertainDataSubNormal, Calculated)" in table[1]  # a Bad reading at 08:00:30
    assert "(" not in table[2]


def test_history_refuses_half_an_aggregation_and_unknown_names(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["history", "-c", config_file, "d.temp"]
    assert main([*base, "--interval", "1h"]) == 2
    assert "--interval and --aggregate go together" in capsys.readouterr().err
    assert main([*base, "--interval", "1h", "--aggregate", "median"]) == 2
    assert "--aggregate: unknown aggregate 'median'" in capsys.readouterr().err
    assert main([*base, "d.nope*", "--interval", "1h", "--aggregate", "count"]) == 2
    assert "no stored tag matches 'd.nope*'" in capsys.readouterr().err


def test_export_many_tags_to_csv_and_parquet(
    config_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.csv"
    assert main(["export", "-c", config_file, "d.*", *RANGE, "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["tag"] for r in rows} == {"d.level", "d.run", "d.temp"}
    assert len(rows) == 120 + 121 + 4
    assert "245 rows of 3 tag(s)" in capsys.readouterr().err
    parquet = tmp_path / "hourly.parquet"
    args = ["export", "-c", config_file, "d.temp", "d.level", *RANGE]
    assert main([*args, "--interval", "1h", "--aggregate", "average,max", "-o", str(parquet)]) == 0
    table = pq.read_table(parquet).to_pandas()
    assert list(table.columns) == [
        "time",
        "tag",
        "average",
        "average_status",
        "maximum",
        "maximum_status",
    ]
    assert len(table) == 4
    temp = table[table.tag == "d.temp"]
    assert list(temp.average) == [29.5, 29.5]
    assert str(table.time.dtype) == "datetime64[us, UTC]"
    raw = tmp_path / "raw.parquet"
    assert main(["export", "-c", config_file, "d.run", *RANGE, "-o", str(raw)]) == 0
    assert list(pq.read_table(raw).to_pandas().value) == [1.0, 0.0, 1.0, 0.0]
    assert main(["export", "-c", config_file, "-o", str(tmp_path / "x.xlsx")]) == 2
    assert not list(tmp_path.glob(".*.partial"))


def test_read_history_returns_dataframes(config_file: str) -> None:
    raw = read_history(config_file, "d.temp", "2024-05-01T08:00Z", "2024-05-01T08:05Z")
    assert list(raw.columns) == ["time", "tag", "value", "status"]
    assert list(raw.value) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert raw.time.iloc[0] == pd.Timestamp("2024-05-01T08:00Z")
    hourly = read_history(
        config_file,
        ["d.temp", "d.level"],
        since=T0,
        until=T0 + 7200,
        interval="1h",
        aggregates="average,minimum,maximum",
    )
    assert len(hourly) == 4
    level = hourly[hourly.tag == "d.level"]
    assert list(level.minimum) == [41.0, -19.0]
    assert set(hourly.columns) >= {"average", "average_status", "maximum_status"}


def test_raw_history_as_json_lines(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["history", "-c", config_file, "d.level", "--since", "2024-05-01T08:00Z"]
    assert main([*args, "--format", "json", "--limit", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"time": "2024-05-01T08:00:00.000000+00:00", "value": 100.0, "status": "Good"},
        {
            "time": "2024-05-01T08:00:30.000000+00:00",
            "value": None,
            "status": "Bad_NoCommunication",
        },
    ]
