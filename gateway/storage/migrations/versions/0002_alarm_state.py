"""Alarm journal: the state after each transition and the active limit, for restore.

Revision ID: 0002
Revises: 0001

Both columns are nullable: events journaled before this revision keep NULL and
a restart infers their state from the transition. The (alarm, id) index makes
"the latest event of each alarm" one index lookup per alarm.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarm_events", sa.Column("state", sa.String(32)))
    op.add_column("alarm_events", sa.Column("limit_key", sa.String(16)))
    op.create_index("ix_alarm_events_alarm_id", "alarm_events", ["alarm", "id"])


def downgrade() -> None:
    op.drop_index("ix_alarm_events_alarm_id", "alarm_events")
    with op.batch_alter_table("alarm_events") as batch:
        batch.drop_column("limit_key")
        batch.drop_column("state")
