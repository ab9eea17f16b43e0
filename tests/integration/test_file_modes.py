"""Readings and passwords on disk are the owner's alone, whatever the umask.

Real files: a real SQLite database with its WAL and SHM files, and the demo's
data directory. The umask is opened up to 000 so that only the code's own
modes can make the files private.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.config import StorageConfig
from gateway.demo.runner import CONFIG_NAME, _prepare
from gateway.model import DataType
from gateway.storage.database import Database
from gateway.storage.tagsync import TagInfo


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_history_and_its_wal_and_shm_are_0600_in_0700_folders(
    tmp_path: Path,
) -> None:
    file = tmp_path / "var" / "gateway" / "history.db"
    before = mode(tmp_path)
    database = Database(
        StorageConfig(url=f"sqlite:///{file}"), [TagInfo("d", "t", DataType.INT16)], gateway="g"
    )
    try:
        database.prepare()  # the schema, as `gateway run` creates it
        with database.engine.connect() as connection:  # a reader holds the WAL open
            connection.execute(text("SELECT count(*) FROM readings"))
            for made in (file, Path(f"{file}-wal"), Path(f"{file}-shm")):
                assert made.is_file(), made
                assert mode(made) == 0o600, (made, oct(mode(made)))
    finally:
        database.dispose()
    assert mode(tmp_path / "var") == mode(tmp_path / "var" / "gateway") == 0o700
    assert mode(tmp_path) == before  # there before: left alone


@pytest.mark.usefixtures("open_umask")
def test_an_existing_database_folder_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    database = Database(StorageConfig(url=f"sqlite:///{shared / 'h.db'}"), [], gateway="g")
    try:
        database.prepare()
    finally:
        database.dispose()
    assert mode(shared) == 0o755
    assert mode(shared / "h.db") == 0o600


@pytest.mark.usefixtures("open_umask")
def test_the_demo_data_directory_is_0700_and_its_config_with_passwords_0600(
    tmp_path: Path,
) -> None:
    data = _prepare(tmp_path / "gateway-demo")
    assert mode(data) == 0o700
    assert mode(data / CONFIG_NAME) == 0o600
    assert "demo-operator" in (data / CONFIG_NAME).read_text(encoding="utf-8")
    # A config left world-readable by an older version is private after the next start.
    os.chmod(data / CONFIG_NAME, 0o644)
    _prepare(data)
    assert mode(data / CONFIG_NAME) == 0o600
