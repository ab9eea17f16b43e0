"""The `tags` table follows the configuration: new tags added, changed ones updated.

Tags removed from the configuration are marked inactive, never deleted: their
history stays readable. Ids are stable, so readings keep pointing at the
right tag across restarts and renames of nothing else.

A gateway syncs only its own rows (`gateway` = its `gateway.name`): in a
database shared by a fleet, another gateway's tags are neither retired nor
reused, even when their device and tag names are the same.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from gateway.config import GatewayConfig, StorageMode
from gateway.model import DataType
from gateway.storage.schema import tags

__all__ = ["TagInfo", "sync_tags", "tag_infos"]


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the historian records about a tag."""

    device: str
    name: str
    data_type: DataType
    unit: str | None = None
    description: str | None = None
    storage_mode: StorageMode = StorageMode.ON_CHANGE

    @property
    def key(self) -> str:
        return f"{self.device}.{self.name}"

    def columns(self) -> dict[str, object]:
        return {
            "device": self.device,
            "name": self.name,
            "data_type": self.data_type.value,
            "unit": self.unit,
            "description": self.description,
            "storage_mode": self.storage_mode.value,
            "active": True,
        }


def tag_infos(config: GatewayConfig) -> list[TagInfo]:
    """Every configured tag, in configuration order."""
    return [
        TagInfo(device.name, tag.name, tag.type, tag.unit, tag.description, tag.storage)
        for device in config.devices
        for tag in device.tags
    ]


#: The columns a tag's row is compared on (device and name are its key).
_COMPARED = ("data_type", "unit", "description", "storage_mode", "active")
_COLUMNS = ("device", "name", *_COMPARED, "gateway")


def sync_tags(connection: Connection, infos: Iterable[TagInfo], *, gateway: str) -> dict[str, int]:
    """Make `gateway`'s rows of `tags` match `infos` (in the caller's transaction);
    return id by key (device.tag).

    Rows are read and written as plain tuples (at 100k tags a dict per row and
    SQLAlchemy's per-row parameter processing took most of 0.7-1.0 s of start-up,
    docs/performance.md); new rows go to the driver's executemany as they are.
    """
    wanted = {info.key: _values(info) for info in infos}
    own = tags.c.gateway == gateway
    compared = [tags.c[name] for name in _COMPARED]
    existing = {
        f"{device}.{name}": (tag_id, tuple(values))
        for tag_id, device, name, *values in connection.execute(
            select(tags.c.id, tags.c.device, tags.c.name, *compared).where(own)
        ).all()  # one fetchall: iterating fetches row by row
    }
    new = [
        (info_key.partition(".")[0], info_key.partition(".")[2], *values, gateway)
        for info_key, values in wanted.items()
        if info_key not in existing
    ]
    if new:
        _insert_many(connection, new)
    changed = [
        {"_id": existing[key][0], **dict(zip(_COMPARED, values, strict=True))}
        for key, values in wanted.items()
        if key in existing and existing[key][1] != values
    ]
    retired = [
        {"_id": tag_id, "active": False}
        for key, (tag_id, values) in existing.items()
        if key not in wanted and values[-1]
    ]
    for rows in (changed, retired):
        if rows:
            columns: dict[str, Any] = {n: bindparam(n) for n in rows[0] if n != "_id"}
            statement = update(tags).where(tags.c.id == bindparam("_id")).values(columns)
            connection.execute(statement, rows)
    if new:
        ids = {
            f"{device}.{name}": tag_id
            for tag_id, device, name in connection.execute(
                select(tags.c.id, tags.c.device, tags.c.name).where(own)
            ).all()
        }
    else:
        ids = {key: tag_id for key, (tag_id, _) in existing.items()}
    # Interned: the one string per tag the rest of the gateway holds (gateway.tags).
    return {sys.intern(key): ids[key] for key in wanted if key in ids}


def _values(info: TagInfo) -> tuple[object, ...]:
    """The compared columns of `info`'s row, in _COMPARED's order."""
    return (
        info.data_type.value,
        info.unit,
        info.description,
        info.storage_mode.value,
        True,
    )


def _insert_many(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    """INSERT `rows` (tuples in _COLUMNS' order) through the driver's executemany."""
    statement = insert(tags).values({name: bindparam(name) for name in _COLUMNS})
    compiled = statement.compile(dialect=connection.dialect)
    order = compiled.positiontup
    if order is not None:  # qmark or format: tuples in the statement's order
        at = [_COLUMNS.index(name) for name in order]
        rows = (
            [tuple(row[i] for i in at) for row in rows]
            if at != list(range(len(_COLUMNS)))
            else rows
        )
        connection.exec_driver_sql(compiled.string, rows)
    else:  # named or pyformat
        connection.exec_driver_sql(
            compiled.string, [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
        )
