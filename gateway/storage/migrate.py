"""Schema versions: Alembic migrations shipped in the package, run without alembic.ini.

`upgrade` brings a database to this gateway's newest revision inside one
transaction (PostgreSQL also takes an advisory lock, so two gateways starting
together do not race). A database stamped with a revision this code does not
know was migrated by a newer gateway: it is refused, never written.

Alembic (and the SQLAlchemy dialect modules it loads) costs 0.1-0.2 s of
imports and 11 MB at every start (docs/performance.md), so the two common
starts do without
it: a database already stamped with `HEAD_REVISION` needs nothing, and an
empty one gets the declared schema (schema.py, which a test holds equal to
what the migrations build) and the head stamp, as Alembic's own recipe for a
new database does. Anything else (an older revision, tables without a stamp,
an unknown revision) goes through Alembic as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, text
from sqlalchemy.engine import Connection, Engine

from gateway.config import StorageConfig
from gateway.storage.engine import open_engine
from gateway.storage.errors import SchemaTooNew, mapped_errors
from gateway.storage.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = [
    "HEAD_REVISION",
    "SchemaState",
    "head_revision",
    "schema_state",
    "upgrade",
    "upgrade_database",
]

#: The newest revision in migrations/versions (a test checks it against Alembic's head).
HEAD_REVISION = "0005"

#: Alembic's own version table, as it creates it.
_alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

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
    from alembic.config import Config  # noqa: PLC0415 - only when migrating (module docstring)

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only when migrating

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this gateway knows."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def _check(connection: Connection, script: ScriptDirectory) -> SchemaState:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only when migrating

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
    script = _scripts()
    with mapped_errors("reading the schema version"), engine.connect() as connection:
        return _check(connection, script)


def _without_alembic(connection: Connection) -> tuple[str | None, str] | None:
    """(before, after) when the database is at the head or empty (then created); else None."""
    names = set(inspect(connection).get_table_names())
    if _alembic_version.name in names:
        stamped = connection.execute(_alembic_version.select()).scalars().all()
        return (HEAD_REVISION, HEAD_REVISION) if stamped == [HEAD_REVISION] else None
    if names & set(metadata.tables):
        return None  # tables without a stamp: Alembic decides, as it always did
    metadata.create_all(connection)
    _alembic_version.create(connection)
    connection.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))
    return None, HEAD_REVISION


def upgrade(engine: Engine, *, gateway: str | None = None) -> tuple[str | None, str]:
    """Migrate to the newest revision; return (revision before, revision after).

    `gateway`: the name rows from before revision 0005 (fleets) are given.
    """
    with mapped_errors("migrating the database schema"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        done = _without_alembic(connection)
        if done is not None:
            return done
        from alembic import command  # noqa: PLC0415 - only when migrating (module docstring)

        config = _config()
        state = _check(connection, _scripts())
        if not state.up_to_date:
            config.attributes["connection"] = connection
            config.attributes["gateway"] = gateway or ""
            command.upgrade(config, "head")
    return state.current, state.head


def upgrade_database(storage: StorageConfig, *, gateway: str) -> tuple[str | None, str]:
    """`gateway db upgrade`: migrate the configured database for gateway `gateway`;
    (before, after)."""
    engine = open_engine(storage.url, synchronous=storage.synchronous)
    try:
        return upgrade(engine, gateway=gateway)
    finally:
        engine.dispose()
