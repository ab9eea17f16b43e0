"""The historian: readings and alarm events in SQLite or PostgreSQL (SQLAlchemy Core).

schema.py      tables (Core metadata); times are integer µs since the epoch
migrate.py     Alembic migrations in migrations/, run programmatically; newer schema refused
engine.py      engines: SQLite WAL + synchronous, PostgreSQL via psycopg
errors.py      SQLAlchemy errors → StorageError / StorageUnavailable / SchemaTooNew
rows.py        values ⇄ columns (pure); AlarmEvent
tagsync.py     the tags table follows the configuration
insert.py      the batch insert fast path per dialect, and the naive baseline
database.py    blocking operations for the single storage thread
thread.py      that thread: calls in order, each with a deadline (`storage.timeout`)
cutter.py      ends a call blocked on a connection, from another thread (the deadline's cut)
modes.py       storage modes per tag: on_change, every_scan, sampled (pure)
buffer.py      the bounded row buffer: drop oldest-first, counted
writer.py      bus → rows → buffer → batched commits with retry
retention.py   chunked deletes of old rows (never an alarm's latest event)
nodestate.py   a Sparkplug edge node's bdSeq, counted across restarts
replay.py      many tags' readings over a window, page by page (MQTT store and forward)
queries.py     raw values with continuation, latest values, alarm journal and states
reading.py     the database opened for reading only (`gateway history`, `gateway alarms`)
historian.py   all of it as one async context manager for the gateway

SQLAlchemy and Alembic are imported in this package only. Turning rows into
text for people is gateway/present/'s part.
"""

from gateway.storage.errors import SchemaTooNew, StorageError, StorageUnavailable
from gateway.storage.historian import Historian
from gateway.storage.queries import AlarmPage, RawPage
from gateway.storage.replay import ReplayCursor, ReplayPage
from gateway.storage.rows import AlarmEvent
from gateway.storage.writer import StorageCounters

__all__ = [
    "AlarmEvent",
    "AlarmPage",
    "Historian",
    "RawPage",
    "ReplayCursor",
    "ReplayPage",
    "SchemaTooNew",
    "StorageCounters",
    "StorageError",
    "StorageUnavailable",
]
