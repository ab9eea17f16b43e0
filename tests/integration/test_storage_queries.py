"""Reading history back on both databases: pages, latest values, alarm journal, the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from storagekit import database_url, gateway_config

from gateway.cli import main
from gateway.config import GatewayConfig
from gateway.model import Status
from gateway.present.history import HistoryFormat, TagRef, history_lines
from gateway.storage import StorageError
from gateway.storage.database import Database
from gateway.storage.queries import alarm_journal, iter_raw, latest, read_raw
from gateway.storage.rows import AlarmEvent, Row, encode_value, to_us
from gateway.storage.tagsync import tag_infos

__all__ = ["database_url"]

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z
#: The gateway name of `gateway_config` (storagekit), whose rows these tests write.
GATEWAY = "storage-test"
TAGS = [
    {"name": "temp", "ref": 40001, "type": "float32", "unit": "degC"},
    {"name": "count", "ref": 40003, "type": "uint64"},
    {"name": "run", "ref": 40007, "bit": 0, "type": "bool"},
    {"name": "label", "ref": 40011, "type": "string", "length": 4},
]


def _config(url: str) -> GatewayConfig:
    return gateway_config(
        url, devices=[{"name": "d", "host": "127.0.0.1", "enabled": False, "tags": TAGS}]
    )


def _row(key: str, at: float, value: object, status: Status = Status.GOOD) -> Row:
    number, text = encode_value(value)  # type: ignore[arg-type]
    return (key, to_us(at), number, text, int(status))


@pytest.fixture
def history(database_url: str) -> Iterator[Database]:
    """The database of `database_url` holding a known history."""
    database = Database(
        _config(database_url).storage, tag_infos(_config(database_url)), gateway=GATEWAY
    )
    database.prepare()
    rows = [_row("d.temp", T0 + i, 20.0 + i / 10) for i in range(100)]
    rows += [
        _row("d.count", T0, 2**64 - 1),
        _row("d.run", T0, True),
        _row("d.run", T0 + 5, None, Status.BAD_NO_COMMUNICATION),
        _row("d.label", T0 + 1, "AB12"),
    ]
    database.write(rows)
    try:
        yield database
    finally:
        database.dispose()


def test_raw_pages_with_continuation_return_every_value_once_in_order(
    history: Database,
) -> None:
    engine = history.engine
    seen: list[float] = []
    token = None
    pages = 0
    while True:
        page = read_raw(
            engine, "d.temp", T0 + 10, T0 + 60, gateway=GATEWAY, limit=7, continuation=token
        )
        seen += [value.source_time or 0.0 for value in page.values]
        pages += 1
        if page.continuation is None:
            break
        token = page.continuation
    assert seen == [T0 + i for i in range(10, 60)]  # start inclusive, end exclusive
    assert pages == 8
    assert [v.value for v in iter_raw(engine, "d.temp", T0 + 98, gateway=GATEWAY, page_size=1)] == [
        pytest.approx(29.8),
        pytest.approx(29.9),
    ]


def test_reverse_pages_run_newest_first_over_the_mirror_range(history: Database) -> None:
    """reverse=True: start < time <= end, newest first (OPC UA reverse reads)."""
    engine = history.engine
    seen: list[float] = []
    token = None
    while True:
        page = read_raw(
            engine,
            "d.temp",
            T0 + 10,
            T0 + 20,
            gateway=GATEWAY,
            limit=4,
            continuation=token,
            reverse=True,
        )
        seen += [value.source_time or 0.0 for value in page.values]
        if page.continuation is None:
            break
        token = page.continuation
    assert seen == [T0 + i for i in range(20, 10, -1)]
    forward = read_raw(engine, "d.temp", T0 + 10, T0 + 20, gateway=GATEWAY, limit=4)
    with pytest.raises(StorageError, match="does not belong to this query"):
        read_raw(
            engine,
            "d.temp",
            T0 + 10,
            T0 + 20,
            gateway=GATEWAY,
            continuation=forward.continuation,
            reverse=True,
        )


def test_a_foreign_or_damaged_continuation_point_is_refused(history: Database) -> None:
    page = read_raw(history.engine, "d.temp", gateway=GATEWAY, limit=5)
    assert page.continuation is not None
    with pytest.raises(StorageError, match="does not belong to this query"):
        read_raw(history.engine, "d.label", gateway=GATEWAY, continuation=page.continuation)
    with pytest.raises(StorageError, match="invalid continuation point"):
        read_raw(history.engine, "d.temp", gateway=GATEWAY, continuation="!!not-a-token")


def test_values_come_back_with_their_type_and_status(history: Database) -> None:
    values = {value.tag: value for value in latest(history.engine, gateway=GATEWAY)}
    assert sorted(values) == ["d.count", "d.label", "d.run", "d.temp"]
    assert values["d.temp"].value == pytest.approx(29.9)
    assert values["d.temp"].source_time == T0 + 99
    assert values["d.count"].value == 2**64 - 1
    assert values["d.label"].value == "AB12"
    assert (values["d.run"].value, values["d.run"].status) == (None, Status.BAD_NO_COMMUNICATION)
    assert [v.tag for v in latest(history.engine, ["d.run", "d.label"], gateway=GATEWAY)] == [
        "d.label",
        "d.run",
    ]


def test_unknown_tags_get_a_clear_error(history: Database) -> None:
    with pytest.raises(StorageError, match=r"no history for tag 'd\.nope'"):
        read_raw(history.engine, "d.nope", gateway=GATEWAY)


def test_alarm_journal_filters_by_alarm_and_time_with_continuation(database_url: str) -> None:
    database = Database(
        _config(database_url).storage, tag_infos(_config(database_url)), gateway=GATEWAY
    )
    try:
        database.prepare()
        events = [
            AlarmEvent(name, T0 + i, transition, 700, f"{name} {transition}", value=i)
            for i, (name, transition) in enumerate(
                [("hot", "activated"), ("cold", "activated"), ("hot", "acknowledged")]
                + [("hot", "cleared")] * 3
            )
        ]
        database.write([], events)
        engine = database.engine
        first = alarm_journal(engine, gateway=GATEWAY, alarm="hot", limit=2)
        assert [(e.transition, e.time) for e in first.events] == [
            ("activated", T0),
            ("acknowledged", T0 + 2),
        ]
        assert first.continuation is not None
        rest = alarm_journal(
            engine, gateway=GATEWAY, alarm="hot", limit=10, continuation=first.continuation
        )
        assert [e.time for e in rest.events] == [T0 + 3, T0 + 4, T0 + 5]
        assert rest.continuation is None
        window = alarm_journal(engine, T0 + 1, T0 + 3, gateway=GATEWAY)
        assert [(e.alarm, e.value, e.message) for e in window.events] == [
            ("cold", 1.0, "cold activated"),
            ("hot", 2.0, "hot acknowledged"),
        ]
    finally:
        database.dispose()


# -- gateway history ---------------------------------------------------------------------


def _config_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "gw.yaml"
    lines = "\n".join(f"      - {tag}" for tag in TAGS).replace("'", "")
    path.write_text(
        f"gateway: {{name: {GATEWAY}}}\nopcua: {{anonymous: true}}\nstorage: {{url: '{url}'}}\n"
        f"devices:\n  - name: d\n    host: 127.0.0.1\n    tags:\n{lines}\n",
        encoding="utf-8",
    )
    return str(path)


def test_history_prints_a_table(
    history: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, database_url)
    assert main(["history", "-c", config, "d.run", "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["time", "value", "status"]
    assert lines[1].split() == ["2024-05-01T08:00:00.000000+00:00", "true", "Good"]
    assert lines[2].split() == ["2024-05-01T08:00:05.000000+00:00", "Bad_NoCommunication"]
    assert len(lines) == 3


def test_history_prints_csv_with_since_until_and_limit(
    history: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, database_url)
    args = ["history", "-c", config, "d.temp", "--format", "csv"]
    since = ["--since", "2024-05-01T08:00:10Z", "--until", "2024-05-01T10:00:20+02:00"]
    assert main([*args, *since, "--limit", "3"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["time", "value", "status"],
        ["2024-05-01T08:00:10.000000+00:00", "21.0", "Good"],
        ["2024-05-01T08:00:11.000000+00:00", "21.1", "Good"],
        ["2024-05-01T08:00:12.000000+00:00", "21.2", "Good"],
    ]
    assert main([*args, "--since", "-1h"]) == 0  # relative to now: this history is older
    assert capsys.readouterr().out.splitlines() == ["time,value,status"]


def test_history_errors_are_one_clear_line(
    history: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, database_url)
    assert main(["history", "-c", config, "d.nope"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: no history for tag 'd.nope'")
    assert main(["history", "-c", config, "d.temp", "--since", "yesterday"]) == 2
    assert "expected ISO 8601" in capsys.readouterr().err
    missing = _config_file(tmp_path, f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["history", "-c", missing, "d.temp"]) == 1
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_history_streams_page_by_page(history: Database) -> None:
    """Rows stored after the first page was read still appear: nothing was loaded up front."""
    storage = _config(str(history.engine.url.render_as_string(hide_password=False))).storage
    lines = history_lines(
        storage, [TagRef(GATEWAY, "d.temp")], own=GATEWAY, format=HistoryFormat.CSV, page_size=10
    )
    head = [next(lines) for _ in range(6)]  # header + 5 values: only the first page read
    assert head[1].startswith("2024-05-01T08:00:00")
    history.write([_row("d.temp", T0 + 1000 + i, 99.0) for i in range(3)])
    rest = list(lines)
    assert len(rest) == 95 + 3
    assert rest[-1] == "2024-05-01T08:16:42.000000+00:00,99.0,Good"
