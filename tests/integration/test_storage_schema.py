"""Schema and migrations on SQLite and PostgreSQL: from empty, idempotent, newer refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from storagekit import (
    DIALECTS,
    database_url,
    engine_for,
    fresh_database,
    gateway_config,
    unreachable_device,
)

from gateway.bus import Bus
from gateway.cli import main
from gateway.config import Synchronous
from gateway.model import DataType
from gateway.storage import Historian, SchemaTooNew, migrate
from gateway.storage.database import Database
from gateway.storage.engine import open_engine
from gateway.storage.migrate import HEAD_REVISION, head_revision, schema_state, upgrade
from gateway.storage.schema import metadata, tags
from gateway.storage.tagsync import TagInfo

__all__ = ["database_url"]


def _write_config(path: Path, url: str) -> Path:
    path.write_text(
        "gateway: {name: g}\n"
        "opcua: {anonymous: true, endpoint: 'opc.tcp://127.0.0.1:0'}\n"
        f"storage: {{url: '{url}'}}\n",
        encoding="utf-8",
    )
    return path


def test_migrations_from_empty_build_exactly_the_declared_schema(database_url: str) -> None:
    with engine_for(database_url) as engine:
        assert schema_state(engine).current is None
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        assert {"tags", "readings", "alarm_events", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
        assert upgrade(engine) == (head_revision(), head_revision())  # idempotent


def _alembic_upgrade(engine: Engine, target: str) -> None:
    """Run the migrations themselves up to `target` (what `upgrade` skips when it can)."""
    config = migrate._config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)


def _described(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys and indexes, comparable across two databases."""
    inspector = inspect(engine)
    return {
        table: (
            [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            inspector.get_pk_constraint(table),
            sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            inspector.get_table_options(table),
        )
        for table in sorted(inspector.get_table_names())
    }


def test_head_revision_constant_is_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_empty_database_gets_the_schema_the_migrations_build(
    dialect: str, tmp_path: Path
) -> None:
    (tmp_path / "created").mkdir()
    (tmp_path / "migrated").mkdir()
    with (
        fresh_database(dialect, tmp_path / "created") as created_url,
        fresh_database(dialect, tmp_path / "migrated") as migrated_url,
        engine_for(created_url) as created,
        engine_for(migrated_url) as migrated,
    ):
        assert upgrade(created) == (None, HEAD_REVISION)  # without Alembic
        _alembic_upgrade(migrated, "head")  # every migration, in order
        assert _described(created) == _described(migrated)
        for engine in (created, migrated):
            with engine.connect() as connection:
                assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            assert schema_state(engine).current == HEAD_REVISION
        if dialect == "sqlite":  # readings is clustered by its key on both
            for engine in (created, migrated):
                with engine.connect() as connection:
                    sql = connection.exec_driver_sql(
                        "SELECT sql FROM sqlite_master WHERE name = 'readings'"
                    ).scalar_one()
                assert "WITHOUT ROWID" in sql


def test_an_older_schema_is_still_migrated_by_alembic(database_url: str) -> None:
    with engine_for(database_url) as engine:
        _alembic_upgrade(engine, "0001")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO alarm_events (alarm, ts, transition, severity, message)"
                    " VALUES ('a', 1, 'active', 500, 'm')"
                )
            )
        assert upgrade(engine) == ("0001", HEAD_REVISION)
        assert "state" in {c["name"] for c in inspect(engine).get_columns("alarm_events")}
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            assert connection.execute(text("SELECT count(*) FROM alarm_events")).scalar() == 1


def test_a_current_database_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    with engine_for(url) as engine:
        upgrade(engine)
    probe = (
        "import sys\n"
        "from gateway.storage.engine import open_engine\n"
        "from gateway.storage.migrate import upgrade\n"
        f"engine = open_engine({url!r})\n"
        "print(upgrade(engine), 'alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"('{HEAD_REVISION}', '{HEAD_REVISION}') False"


async def test_a_schema_newer_than_the_code_is_refused_at_start_and_by_db_upgrade(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine_for(database_url) as engine:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    config = gateway_config(database_url, devices=[unreachable_device("a")])
    with pytest.raises(SchemaTooNew, match=r"9999_future.*newer than this gateway"):
        async with Historian(config, Bus()):
            pytest.fail("a newer schema must not be opened")
    assert (
        main(["db", "upgrade", "-c", str(_write_config(tmp_path / "gw.yaml", database_url))]) == 1
    )
    err = capsys.readouterr().err
    assert "error: " in err
    assert "revision 9999_future, newer than this gateway knows" in err
    assert "Traceback" not in err


def test_db_upgrade_command_migrates_then_reports_up_to_date(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path / "gw.yaml", database_url)
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    assert f"schema upgraded from revision (empty) to {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    assert f"schema already at revision {head_revision()}" in capsys.readouterr().out


def test_sqlite_url_is_relative_to_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    config = _write_config(folder / "gw.yaml", "sqlite:///data/history.db")
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    assert (folder / "data" / "history.db").is_file()
    assert str(folder / "data" / "history.db") in capsys.readouterr().out


def test_sqlite_runs_in_wal_mode_with_the_configured_synchronous(tmp_path: Path) -> None:
    for mode, expected in ((Synchronous.NORMAL, 1), (Synchronous.FULL, 2)):
        engine = open_engine(f"sqlite:///{tmp_path / f'{mode}.db'}", synchronous=mode)
        try:
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        finally:
            engine.dispose()


def test_sqlite_page_cache_is_bounded_to_8_mb(tmp_path: Path) -> None:
    """Its pages are RSS: 32 MB of them filled a 100k-tag gateway's (issue 21)."""
    engine = open_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -8 * 1024
    finally:
        engine.dispose()


def test_run_and_history_refuse_a_newer_schema_with_exit_1(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine_for(database_url) as engine:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    config = str(_write_config(tmp_path / "gw.yaml", database_url))
    assert main(["run", "-c", config, "--duration", "5"]) == 1
    assert "error: the database schema is at revision ffff" in capsys.readouterr().err
    assert main(["history", "-c", config, "d.t"]) == 1
    assert "error: the database schema is at revision ffff" in capsys.readouterr().err


def test_the_tags_table_follows_the_configuration_with_stable_ids(database_url: str) -> None:
    storage = gateway_config(database_url).storage
    first = Database(
        storage,
        [TagInfo("d", "a", DataType.FLOAT32), TagInfo("d", "b", DataType.INT16)],
        gateway="g",
    )
    first.prepare()
    first.dispose()
    second = Database(
        storage,
        [TagInfo("d", "b", DataType.INT16, unit="bar"), TagInfo("d", "c", DataType.BOOL)],
        gateway="g",
    )
    second.prepare()
    try:
        assert second.tag_ids["d.b"] == first.tag_ids["d.b"]
        assert set(second.tag_ids) == {"d.b", "d.c"}
        with second.engine.connect() as connection:
            rows = {
                row.name: (row.unit, row.data_type, row.active)
                for row in connection.execute(select(tags))
            }
    finally:
        second.dispose()
    assert rows == {
        "a": (None, "float32", False),  # left the configuration: kept, inactive
        "b": ("bar", "int16", True),
        "c": (None, "bool", True),
    }


def test_a_retired_tag_that_returns_is_active_again_with_its_id(database_url: str) -> None:
    storage = gateway_config(database_url).storage
    configurations = [
        [TagInfo("d", "a", DataType.FLOAT32), TagInfo("d", "b", DataType.INT16)],
        [TagInfo("d", "b", DataType.INT16)],
        [TagInfo("d", "a", DataType.FLOAT32), TagInfo("d", "b", DataType.INT16)],
    ]
    ids: list[dict[str, int]] = []
    active: list[dict[str, bool]] = []
    for infos in configurations:
        database = Database(storage, infos, gateway="g")
        database.prepare()
        try:
            ids.append(dict(database.tag_ids))
            with database.engine.connect() as connection:
                active.append({row.name: row.active for row in connection.execute(select(tags))})
        finally:
            database.dispose()
    assert active == [{"a": True, "b": True}, {"a": False, "b": True}, {"a": True, "b": True}]
    assert ids[2] == ids[0]
    assert ids[1] == {"d.b": ids[0]["d.b"]}


def test_a_prepared_database_is_prepared_once(database_url: str) -> None:
    """Its tag infos are dropped once synced: a second prepare must not retire the tags."""
    storage = gateway_config(database_url).storage
    database = Database(storage, [TagInfo("d", "a", DataType.FLOAT32)], gateway="g")
    database.prepare()
    try:
        ids = dict(database.tag_ids)
        database.prepare()
        assert database.tag_ids == ids
        with database.engine.connect() as connection:
            active = {row.name: row.active for row in connection.execute(select(tags))}
    finally:
        database.dispose()
    assert active == {"a": True}
