"""Fleets: several gateways share one database, their rows told apart by gateway name.

Revision ID: 0005
Revises: 0004

`tags`, `alarm_events` and the notification outbox get a `gateway` column
(a gateway delivers only its own notifications). Tag names are unique per
gateway, so two gateways may both have `boiler.temperature`; tag ids stay
unique across the database, so `readings` (keyed by tag id) is unchanged.
The alarm index leads with the gateway: a gateway's restore and retention
never read another gateway's alarms.

Rows written before this revision belong to the gateway that runs the
upgrade (`gateway run` or `gateway db upgrade` pass their `gateway.name` in
the Alembic config's attributes); without a name they keep '' (no gateway).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def _owner() -> str:
    name = context.config.attributes.get("gateway", "")
    return name if isinstance(name, str) else ""


def upgrade() -> None:
    owner = _owner()
    gateway = sa.Column("gateway", sa.String(128), nullable=False, server_default="")
    with op.batch_alter_table("tags") as batch:
        batch.add_column(gateway)
        batch.drop_constraint("uq_tags_device_name", type_="unique")
        batch.create_unique_constraint("uq_tags_gateway_device_name", ["gateway", "device", "name"])
    op.add_column(
        "alarm_events", sa.Column("gateway", sa.String(128), nullable=False, server_default="")
    )
    op.drop_index("ix_alarm_events_alarm_id", "alarm_events")
    op.create_index("ix_alarm_events_gateway_alarm_id", "alarm_events", ["gateway", "alarm", "id"])
    op.add_column(
        "notifications", sa.Column("gateway", sa.String(128), nullable=False, server_default="")
    )
    op.drop_index("ix_notifications_status_next_try", "notifications")
    op.create_index(
        "ix_notifications_gateway_status_next_try",
        "notifications",
        ["gateway", "status", "next_try"],
    )
    if owner:
        for table in ("tags", "alarm_events", "notifications"):
            op.execute(sa.text(f"UPDATE {table} SET gateway = :owner").bindparams(owner=owner))


def downgrade() -> None:
    op.drop_index("ix_notifications_gateway_status_next_try", "notifications")
    op.create_index("ix_notifications_status_next_try", "notifications", ["status", "next_try"])
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("gateway")
    op.drop_index("ix_alarm_events_gateway_alarm_id", "alarm_events")
    op.create_index("ix_alarm_events_alarm_id", "alarm_events", ["alarm", "id"])
    with op.batch_alter_table("alarm_events") as batch:
        batch.drop_column("gateway")
    with op.batch_alter_table("tags") as batch:
        batch.drop_constraint("uq_tags_gateway_device_name", type_="unique")
        batch.create_unique_constraint("uq_tags_device_name", ["device", "name"])
        batch.drop_column("gateway")
