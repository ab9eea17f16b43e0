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


def sync_tags(connection: Connection, infos: Iterable[TagInfo], *, gateway: str) -> dict[str, int]:
    """Make `gateway`'s rows of `tags` match `infos` (in the caller's transaction);
    return id by key (device.tag)."""
    wanted = {info.key: {**info.columns(), "gateway": gateway} for info in infos}
    own = tags.c.gateway == gateway
    existing = {
        f"{row.device}.{row.name}": row._asdict()
        for row in connection.execute(select(tags).where(own))
    }
    new = [columns for key, columns in wanted.items() if key not in existing]
    if new:
        connection.execute(insert(tags), new)
    changed = [
        {"_id": existing[key]["id"], **columns}
        for key, columns in wanted.items()
        if key in existing and _differs(existing[key], columns)
    ]
    retired = [
        {"_id": row["id"], "active": False}
        for key, row in existing.items()
        if key not in wanted and row["active"]
    ]
    for rows in (changed, retired):
        if rows:
            values: dict[str, Any] = {n: bindparam(n) for n in rows[0] if n != "_id"}
            statement = update(tags).where(tags.c.id == bindparam("_id")).values(values)
            connection.execute(statement, rows)
    ids = {
        f"{row.device}.{row.name}": row.id
        for row in connection.execute(select(tags.c.id, tags.c.device, tags.c.name).where(own))
    }
    # Interned: the one string per tag the rest of the gateway holds (gateway.tags).
    return {sys.intern(key): ids[key] for key in wanted if key in ids}


def _differs(stored: dict[str, object], wanted: dict[str, object]) -> bool:
    return any(stored.get(name) != value for name, value in wanted.items())
