"""Throw-away databases for benchmarks: a temporary SQLite file or a PostgreSQL schema.

The PostgreSQL schema gets a unique name and is selected through the
connection's `search_path`, so a benchmark never touches existing tables;
it is dropped afterwards.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from gateway.storage.database import Database
from gateway.storage.engine import open_engine
from gateway.storage.errors import mapped_errors
from gateway.storage.insert import IdRow, insert_naive
from gateway.storage.rows import Row

__all__ = ["naive_write", "scratch_url"]


@contextmanager
def scratch_url(url: str | None) -> Iterator[str]:
    """A URL to an empty database: a temp SQLite file when `url` is None, else a new schema."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="gateway-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    schema = f"gateway_bench_{uuid.uuid4().hex[:12]}"
    engine = open_engine(url)
    try:
        with mapped_errors("creating a scratch schema"), engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with mapped_errors("dropping the scratch schema"), engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def naive_write(database: Database, rows: Sequence[Row]) -> int:
    """The baseline: one INSERT statement per row, one transaction per batch."""
    ids = database.tag_ids
    id_rows: list[IdRow] = [(ids[key], ts, num, txt, status) for key, ts, num, txt, status in rows]
    with mapped_errors("writing readings"), database.engine.begin() as connection:
        return insert_naive(connection, id_rows)
