"""Initial schema: tags, readings, alarm_events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("data_type", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.Column("storage_mode", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("device", "name", name="uq_tags_device_name"),
    )
    op.create_table(
        "readings",
        sa.Column("tag_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("value_num", sa.Double),
        sa.Column("value_str", sa.Text),
        sa.Column("status", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tag_id", "ts", name="pk_readings"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("alarm", sa.String(128), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("transition", sa.String(32), nullable=False),
        sa.Column("value_num", sa.Double),
        sa.Column("value_str", sa.Text),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("user", sa.String(128)),
        sa.Column("comment", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_events"),
    )
    op.create_index("ix_alarm_events_ts", "alarm_events", ["ts"])


def downgrade() -> None:
    op.drop_table("alarm_events")
    op.drop_table("readings")
    op.drop_table("tags")
