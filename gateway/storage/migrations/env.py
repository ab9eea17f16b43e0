"""Alembic environment: always online, on the connection gateway.storage.migrate passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from gateway.storage.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):  # pragma: no cover - only migrate.py runs us
    raise RuntimeError("run the migrations through gateway.storage.migrate")
_run(_connection)
