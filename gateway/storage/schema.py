"""The historian's tables as SQLAlchemy Core metadata (the migrations create them).

Times are integer microseconds since the Unix epoch (UTC) on both dialects:
one compact, exactly comparable key column that SQLite and PostgreSQL index
the same way, converted to datetimes only at the edges. A value is stored in
`value_num` (bool, integers up to 2^53, floats) or `value_str` (strings, and
integers too large for a double, kept exact); both are NULL for a Bad reading.
`readings` is keyed by (tag_id, ts): a replayed batch inserts nothing twice,
and a tag's history over a time range is one index range scan.

Several gateways may share one database (a fleet on PostgreSQL): `tags` and
`alarm_events` carry the writing gateway's name (revision 0005), and tag ids
are unique across gateways, so `readings` needs no gateway column and its
insert path is the same for one gateway or many.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["alarm_events", "edge_nodes", "metadata", "notifications", "readings", "tags"]

#: Constraint names follow one convention so migrations can refer to them.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("data_type", String(16), nullable=False),
    Column("unit", String(64)),
    Column("description", Text),
    Column("storage_mode", String(16), nullable=False),
    # False once the tag left the configuration: its history stays queryable.
    Column("active", Boolean, nullable=False),
    # Revision 0005: the gateway whose configuration holds the tag (`gateway.name`).
    Column("gateway", String(128), nullable=False, server_default=""),
    UniqueConstraint("gateway", "device", "name"),
)

readings = Table(
    "readings",
    metadata,
    # No foreign key to tags: the check costs PostgreSQL a third of its insert rate,
    # and tags are never deleted (only marked inactive), so ids never dangle.
    Column("tag_id", Integer, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value_num", Double),
    Column("value_str", Text),
    Column("status", BigInteger, nullable=False),
    PrimaryKeyConstraint("tag_id", "ts"),
    # Clustered by (tag_id, ts) on SQLite: range scans read adjacent pages,
    # and the table is a third smaller than a rowid table plus its index.
    sqlite_with_rowid=False,
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("alarm", String(128), nullable=False),
    Column("ts", BigInteger, nullable=False, index=True),
    Column("transition", String(32), nullable=False),
    Column("value_num", Double),
    Column("value_str", Text),
    Column("severity", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("user", String(128)),
    Column("comment", Text),
    # Revision 0002: the state after the transition and the active limit, for restore.
    Column("state", String(32)),
    Column("limit_key", String(16)),
    # Revision 0004: shelving and out of service after the event, for restore.
    Column("shelving", String(16)),
    Column("shelved_until", BigInteger),
    Column("enabled", Boolean),
    # Revision 0005: the gateway that journaled the event (`gateway.name`).
    Column("gateway", String(128), nullable=False, server_default=""),
    # The latest event per alarm of a gateway (restore, retention) is one index
    # lookup per alarm.
    Index("ix_alarm_events_gateway_alarm_id", "gateway", "alarm", "id"),
)

# Revision 0003: a Sparkplug edge node's bdSeq, kept across restarts (gateway/mqtt).
edge_nodes = Table(
    "edge_nodes",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("bd_seq", Integer, nullable=False),
)

#: Revision 0004: the notification outbox (gateway/alarms/notify), one row per
#: message to deliver, written with the journal event it tells of.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("channel", String(128), nullable=False),
    Column("alarm", String(128), nullable=False),
    Column("transition", String(32), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("next_try", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("sent_ts", BigInteger),
    # Revision 0005: the gateway whose alarm it tells of; each delivers its own.
    Column("gateway", String(128), nullable=False, server_default=""),
    Index("ix_notifications_gateway_status_next_try", "gateway", "status", "next_try"),
)
