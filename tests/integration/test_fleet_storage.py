"""Several gateways in one database (a fleet): rows told apart by gateway name.

Two historians with the same device and tag names share one SQLite file or
PostgreSQL schema: each reads, syncs, expires and restores only its own rows,
and `gateway history` reads any gateway's tags in one listing.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from alembic import command
from gatewaykit import wait_for
from sqlalchemy import insert, select
from storagekit import database_url, engine_for, gateway_config, unreachable_device

from gateway.bus import Bus
from gateway.cli import main
from gateway.config import GatewayConfig
from gateway.model import Status, TagValue
from gateway.storage import AlarmEvent, Historian, ReplayCursor, migrate
from gateway.storage.migrate import upgrade
from gateway.storage.schema import alarm_events, readings, tags

__all__ = ["database_url"]

GOOD = Status.GOOD
FAST = {"flush_interval": "50ms", "retry_min": "50ms", "retry_max": "200ms"}
#: In the past, so a retention of an hour expires them; each gateway its own values.
OLD = time.time() - 7200


def _config(url: str, name: str, *tags: str, **storage: str) -> GatewayConfig:
    return gateway_config(
        url, devices=[unreachable_device(*tags)], name=name, **{**FAST, **storage}
    )


def _values(key: str, base: float, count: int = 5) -> list[TagValue]:
    return [TagValue(key, base + i, GOOD, OLD + i, OLD + i) for i in range(count)]


async def _store(historian: Historian, bus: Bus, values: list[TagValue]) -> None:
    written = historian.counters.rows_written + len(values)
    bus.publish(values)
    await wait_for(lambda: historian.counters.rows_written >= written, message="rows written")


async def test_two_gateways_with_the_same_tag_names_keep_their_own_rows(
    database_url: str,
) -> None:
    line1 = _config(database_url, "line1", "temp", "flow", retention="30d")
    line2 = _config(database_url, "line2", "temp", retention="1h")
    bus1, bus2 = Bus(), Bus()
    async with Historian(line1, bus1) as first, Historian(line2, bus2) as second:
        assert first.database.tag_ids["d.temp"] != second.database.tag_ids["d.temp"]
        await _store(first, bus1, _values("d.temp", 100.0) + _values("d.flow", 5.0))
        await _store(second, bus2, _values("d.temp", 200.0))
        first.record_alarm(AlarmEvent("hot", OLD, "activated", 700, "line1 hot", 104.0))
        second.record_alarm(AlarmEvent("hot", OLD, "activated", 700, "line2 hot", 204.0))
        await wait_for(lambda: second.counters.batches >= 2, message="line2's alarm written")
        await wait_for(lambda: first.counters.batches >= 2, message="line1's alarm written")

        assert [v.value for v in (await first.read_raw("d.temp")).values] == [
            100.0, 101.0, 102.0, 103.0, 104.0,
        ]  # fmt: skip
        assert [v.value for v in (await second.read_raw("d.temp")).values] == [
            200.0, 201.0, 202.0, 203.0, 204.0,
        ]  # fmt: skip
        assert [v.tag for v in await second.latest()] == ["d.temp"]
        assert (await first.alarm_states())["hot"].message == "line1 hot"
        assert (await second.alarm_states())["hot"].message == "line2 hot"

        # MQTT store and forward replays the gateway's own readings only.
        for historian, base in ((first, 100.0), (second, 200.0)):
            page = await historian.replay_page(
                ["d.temp"], OLD - 1, OLD + 10, cursor=ReplayCursor(), limit=100
            )
            assert [v.value for v in page.values] == [base + i for i in range(5)]

        # line2's one-hour retention expires line2's rows only (its events too,
        # but never an alarm's latest one); line1 keeps 30 days.
        assert await second.apply_retention() == 5
        assert (await second.read_raw("d.temp")).values == []
        assert len((await first.read_raw("d.temp")).values) == 5
        assert (await second.alarm_states())["hot"].message == "line2 hot"

    # line2 restarts without `temp`: its own tag retires, line1's stays active.
    async with Historian(_config(database_url, "line2", "other"), Bus()):
        pass
    with engine_for(database_url) as engine, engine.connect() as connection:
        active = connection.execute(
            select(tags.c.gateway, tags.c.device, tags.c.name, tags.c.active).order_by(
                tags.c.gateway, tags.c.name
            )
        ).all()
    assert [tuple(row) for row in active] == [
        ("line1", "d", "flow", True),
        ("line1", "d", "temp", True),
        ("line2", "d", "other", True),
        ("line2", "d", "temp", False),
    ]


async def test_history_reads_across_gateways_in_one_listing(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bus1, bus2 = Bus(), Bus()
    line1, line2 = _config(database_url, "line1", "temp"), _config(database_url, "line2", "temp")
    async with Historian(line1, bus1) as first, Historian(line2, bus2) as second:
        await _store(first, bus1, _values("d.temp", 100.0, 2))
        await _store(second, bus2, [TagValue("d.temp", 7.5, GOOD, OLD + 0.5, OLD + 0.5)])
        second.record_alarm(AlarmEvent("hot", OLD, "activated", 700, "line2 hot", 7.5))
        await wait_for(lambda: second.counters.batches >= 2, message="line2's alarm written")
    config = tmp_path / "line1.yaml"
    config.write_text(
        "gateway: {name: line1}\n"
        f"storage: {{url: '{database_url}'}}\n"
        "devices: [{name: d, host: 127.0.0.1, tags: [{name: temp, ref: 40001, type: float32}]}]\n"
        "alarms: [{name: hot, tag: d.temp, high: 1000}]\n",
        encoding="utf-8",
    )
    args = ["history", "-c", str(config), "--format", "csv"]
    assert main([*args, "line2/d.temp"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [row[1:] for row in rows] == [["value", "status"], ["7.5", "Good"]]

    assert main([*args, "d.temp", "line2/d.temp"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [row[1:] for row in rows] == [
        ["tag", "value", "status"],
        ["line1/d.temp", "100.0", "Good"],
        ["line2/d.temp", "7.5", "Good"],
        ["line1/d.temp", "101.0", "Good"],
    ]
    assert main([*args, "d.temp", "line2/d.temp", "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 2
    assert main(["history", "-c", str(config), "d.temp", "line2/d.temp"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["time", "tag", "value", "status"]
    assert table[2].split()[1:] == ["line2/d.temp", "7.5", "Good"]

    assert main([*args, "line3/d.temp"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: no history for tag 'line3/d.temp': gateway 'line3' has no such tag in this "
        "database (gateways with tags here: 'line1', 'line2')\n"
    )
    assert main([*args, "/d.temp"]) == 2
    assert "the gateway name is empty" in capsys.readouterr().err

    assert main(["alarms", "-c", str(config), "--active", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == []  # line1 has no alarm events
    assert main(["alarms", "-c", str(config), "--active", "--gateway", "line2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in out[1:]] == [["hot", "activated"]]
    with pytest.raises(SystemExit) as usage:
        main(["alarms", "-c", str(config), "--gateway", "bad name"])
    assert usage.value.code == 2
    assert "not a valid name" in capsys.readouterr().err


def test_rows_from_before_fleets_belong_to_the_gateway_that_upgrades(database_url: str) -> None:
    config = migrate._config()
    with engine_for(database_url) as engine:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.execute(
                insert(tags),
                [{"device": "d", "name": "t", "data_type": "float32", "storage_mode": "on_change",
                  "active": True}],
            )  # fmt: skip
            tag_id = connection.execute(select(tags.c.id)).scalar_one()
            connection.execute(
                insert(readings), [{"tag_id": tag_id, "ts": 1, "value_num": 1.5, "status": 0}]
            )
            connection.execute(
                insert(alarm_events),
                [{"alarm": "a", "ts": 1, "transition": "activated", "severity": 1, "message": "m"}],
            )
        assert upgrade(engine, gateway="old-one") == ("0002", migrate.HEAD_REVISION)
        with engine.connect() as connection:
            assert connection.execute(select(tags.c.gateway)).scalars().all() == ["old-one"]
            assert connection.execute(select(alarm_events.c.gateway)).scalars().all() == ["old-one"]
        # Another gateway of the same name may now be added under a new name.
        with engine.begin() as connection:
            connection.execute(
                insert(tags),
                [{"device": "d", "name": "t", "data_type": "float32", "storage_mode": "on_change",
                  "active": True, "gateway": "new-one"}],
            )  # fmt: skip
            assert len(connection.execute(select(tags.c.id)).all()) == 2
