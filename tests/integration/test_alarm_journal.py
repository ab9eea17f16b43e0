"""The alarm journal's storage side on SQLite and PostgreSQL: states, retention, migration."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from alarmkit import TEMP_ALARM, alarm_config, journal_of
from alembic import command
from alembic.config import Config
from eventually import eventually
from gatewaykit import wait_for
from sqlalchemy import insert
from storagekit import database_url, engine_for, fresh_database, gateway_config, outage

import gateway.storage.migrations
from gateway.alarms import AlarmEngine, AlarmState
from gateway.alarms.journal import journaled_state
from gateway.bus import Bus
from gateway.cli import main
from gateway.model import Status, TagValue
from gateway.storage import AlarmEvent, Historian
from gateway.storage.migrate import upgrade
from gateway.storage.schema import alarm_events

__all__ = ["database_url"]

DAY = 86_400.0
#: In the future: the historian's own retention pass (at the real now) deletes none of them.
T0 = time.time() + 100 * DAY


def _event(
    alarm: str, at: float, transition: str, state: str, limit: str | None = None
) -> AlarmEvent:
    return AlarmEvent(
        alarm, at, transition, 500, f"{alarm} {transition}", 1.5, state=state, limit=limit
    )


async def _journal(historian: Historian, count: int) -> list[AlarmEvent]:
    async def written() -> list[AlarmEvent] | None:
        events = (await historian.alarm_journal()).events
        return events if len(events) >= count else None

    events: list[AlarmEvent] | None = await eventually(
        written, timeout=10, what=f"{count} journal events", interval=0.02
    )
    assert events is not None
    return events


async def test_latest_state_per_alarm_and_retention_never_deletes_it(database_url: str) -> None:
    config = gateway_config(database_url, flush_interval="50ms", retention="1d")
    historian = Historian(config, Bus())
    async with historian:
        for event in (
            _event("old_active", T0 - 30 * DAY, "activated", "active_unacked", "high"),
            _event("flappy", T0 - 30 * DAY, "activated", "active_unacked", "low"),
            _event("flappy", T0 - 29 * DAY, "cleared", "rtn_unacked", "low"),
            _event("flappy", T0 - 28 * DAY, "acknowledged", "normal", "low"),
            _event("recent", T0 - 60, "activated", "active_unacked", "high"),
            _event("recent", T0 - 30, "limit_changed", "active_unacked", "high_high"),
        ):
            historian.record_alarm(event)
        await _journal(historian, 6)
        states = await historian.alarm_states()
        assert {name: (e.transition, e.state, e.limit) for name, e in states.items()} == {
            "old_active": ("activated", "active_unacked", "high"),
            "flappy": ("acknowledged", "normal", "low"),
            "recent": ("limit_changed", "active_unacked", "high_high"),
        }
        assert list(await historian.alarm_states(["recent", "nope"])) == ["recent"]

        deleted = await historian.apply_retention(now=T0)
        assert deleted == 2  # flappy's two older events; every alarm's latest stays
        kept = [(e.alarm, e.transition) for e in (await historian.alarm_journal()).events]
        assert kept == [
            ("old_active", "activated"),
            ("flappy", "acknowledged"),
            ("recent", "activated"),
            ("recent", "limit_changed"),
        ]
        assert await historian.apply_retention(now=T0) == 0
        assert set(await historian.alarm_states()) == {"old_active", "flappy", "recent"}


def _at_revision_0001(url: str) -> None:
    alembic = Config()
    alembic.set_main_option(
        "script_location", str(Path(gateway.storage.migrations.__file__).parent)
    )
    with engine_for(url) as engine, engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0001")
        connection.execute(
            insert(alarm_events),
            [
                {
                    "alarm": "hot",
                    "ts": 1,
                    "transition": "activated",
                    "severity": 700,
                    "message": "m",
                },
                {
                    "alarm": "cold",
                    "ts": 2,
                    "transition": "activated",
                    "severity": 700,
                    "message": "m",
                },
                {
                    "alarm": "cold",
                    "ts": 3,
                    "transition": "cleared",
                    "severity": 700,
                    "message": "m",
                },
            ],
        )


def test_events_from_before_0002_are_migrated_and_their_state_inferred(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Written here via SQL: the 0001 table has no state columns, so Historian cannot be used.
    from gateway.storage.queries import alarm_states

    _at_revision_0001(database_url)
    config_file = tmp_path / "g.yaml"
    config_file.write_text(
        "gateway: {name: g}\n"
        f"storage: {{url: '{database_url}'}}\n"
        "devices: [{name: d, host: 127.0.0.1, tags: [{name: t, ref: 40001, type: float32}]}]\n"
        "alarms: [{name: hot, tag: d.t, high: 1}, {name: cold, tag: d.t, low: 0}]\n"
    )
    assert main(["alarms", "-c", str(config_file)]) == 1
    assert "older than this gateway" in capsys.readouterr().err

    with engine_for(database_url) as engine:
        assert upgrade(engine, gateway="g")[0] == "0001"
        states = alarm_states(engine, gateway="g")
    assert {name: journaled_state(e) for name, e in states.items()} == {
        "hot": AlarmState.UNACK,
        "cold": AlarmState.NORMAL,
    }
    assert main(["alarms", "-c", str(config_file), "--active", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split(",")[1:5] for row in rows[1:]] == [["hot", "activated", "active_unacked", ""]]


@pytest.mark.postgres
async def test_a_database_down_at_start_starts_alarms_normal_and_journals_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        async with outage(url) as database:
            await database.down()
            config = alarm_config(database.url, None, [TEMP_ALARM])
            bus = Bus()
            historian = Historian(config, bus)
            engine = AlarmEngine(config, bus, journal=historian)
            with caplog.at_level(logging.WARNING):
                async with historian, engine:
                    assert "states not restored" in caplog.text
                    assert engine.snapshot("temp_alarm").state is AlarmState.NORMAL
                    bus.publish([TagValue("plc.temp", 45.0, Status.GOOD, T0, T0)])
                    await wait_for(lambda: engine.snapshot("temp_alarm").active, message="trip")
                    await database.up()  # the buffered event is written once it answers
                    await wait_for(
                        lambda: historian.database.ready, timeout=15, message="schema created"
                    )
                    events = await journal_of(historian, "temp_alarm", 1)
    assert [(e.transition, e.state, e.limit) for e in events] == [
        ("activated", "active_unacked", "high_high")
    ]
