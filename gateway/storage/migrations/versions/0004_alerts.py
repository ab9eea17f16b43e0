"""Alerts: shelving and out of service in the alarm journal; the notification outbox.

Revision ID: 0004
Revises: 0003 (chained to 0002 on the alerts branch, re-chained at merge)

The journal's new columns are nullable: events from before keep NULL (not
shelved, enabled). The outbox holds one row per notification to send: written
in the transaction of the journal event it tells of, then updated as it is
delivered (at least once; `message_id` is the receiver's idempotency key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarm_events", sa.Column("shelving", sa.String(16)))
    op.add_column("alarm_events", sa.Column("shelved_until", sa.BigInteger))
    op.add_column("alarm_events", sa.Column("enabled", sa.Boolean))
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("alarm", sa.String(128), nullable=False),
        sa.Column("transition", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_ts", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("message_id", name="uq_notifications_message_id"),
    )
    op.create_index("ix_notifications_status_next_try", "notifications", ["status", "next_try"])


def downgrade() -> None:
    op.drop_index("ix_notifications_status_next_try", "notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("alarm_events") as batch:
        batch.drop_column("enabled")
        batch.drop_column("shelved_until")
        batch.drop_column("shelving")
