"""Schema versions: Alembic migrations shipped in the package, run without alembic.ini.

`upgrade` brings a database to this gateway's newest revision inside one
transaction (PostgreSQL also takes an advisory lock, so two gateways starting
together do not race). A database stamped with a revision this code does not
know was migrated by a newer gateway: it is refused, never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from gateway.config import StorageConfig
from gateway.storage.engine import open_engine
from gateway.storage.errors import SchemaTooNew, mapped_errors

__all__ = ["SchemaState", "head_revision", "schema_state", "upgrade", "upgrade_database"]

_SCRIPTS = Path(__file__).with_name("migrations")
#: Arbitrary key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK = 0x6761_7465_7761_7931


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The revision a database is at, and this code's newest one."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    """The newest revision this gateway knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def _check(connection: Connection, script: ScriptDirectory) -> SchemaState:
    head = script.get_current_head()
    assert head is not None, "the migrations folder has no revision"
    known = {entry.revision for entry in script.walk_revisions()}
    heads = MigrationContext.configure(connection).get_current_heads()
    for revision in heads:
        if revision not in known:
            raise SchemaTooNew(
                f"the database schema is at revision {revision}, newer than this gateway "
                f"knows (up to {head}): upgrade the gateway, or point it at another database"
            )
    return SchemaState(heads[0] if heads else None, head)


def schema_state(engine: Engine) -> SchemaState:
    """Where the database stands; SchemaTooNew when it is ahead of this code."""
    script = ScriptDirectory.from_config(_config())
    with mapped_errors("reading the schema version"), engine.connect() as connection:
        return _check(connection, script)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest revision; return (revision before, revision after)."""
    config = _config()
    script = ScriptDirectory.from_config(config)
    with mapped_errors("migrating the database schema"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        state = _check(connection, script)
        if not state.up_to_date:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return state.current, state.head


def upgrade_database(storage: StorageConfig) -> tuple[str | None, str]:
    """`gateway db upgrade`: migrate the configured database; (before, after)."""
    engine = open_engine(storage.url, synchronous=storage.synchronous)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()
