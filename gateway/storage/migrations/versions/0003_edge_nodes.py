"""Sparkplug edge nodes: the birth/death sequence number (bdSeq) kept across restarts.

Revision ID: 0003
Revises: 0002

A Sparkplug host pairs an NDEATH with its NBIRTH by bdSeq; a gateway that
restarted with bdSeq 0 every time would let a host match a stale death to a
new birth. One row per edge node name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edge_nodes",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("bd_seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_edge_nodes"),
    )


def downgrade() -> None:
    op.drop_table("edge_nodes")
