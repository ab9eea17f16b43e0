"""The historian's blocking database operations, for one worker thread.

Every method blocks and raises StorageError (StorageUnavailable when a retry
may help); the async side runs them on its single storage thread (thread.py),
so calls never overlap and the event loop never waits on the database, and
cuts a call that overruns its deadline through `cutter`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from gateway.config import StorageConfig
from gateway.storage.cutter import ConnectionCutter
from gateway.storage.engine import open_engine
from gateway.storage.errors import mapped_errors
from gateway.storage.insert import IdRow, insert_sorted
from gateway.storage.migrate import upgrade
from gateway.storage.nodestate import next_bd_seq
from gateway.storage.outbox import insert_messages
from gateway.storage.rows import AlarmEvent, Row, encode_value, to_us
from gateway.storage.schema import alarm_events
from gateway.storage.tagsync import TagInfo, sync_tags

__all__ = ["Database"]


class Database:
    """An engine plus the tag ids of this configuration, once `prepare` ran.

    `gateway` (the configured `gateway.name`) owns the tags and alarm events
    this database object writes: the rows a fleet's shared database tells
    apart by gateway.
    """

    def __init__(self, storage: StorageConfig, tags: Sequence[TagInfo], *, gateway: str) -> None:
        self.engine: Engine = open_engine(
            storage.url, synchronous=storage.synchronous, timeout=storage.timeout
        )
        #: Ends a call blocked on this engine's connections, from another thread.
        self.cutter = ConnectionCutter(self.engine)
        self.gateway = gateway
        self._infos = list(tags)
        self._ids: dict[str, int] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def ready(self) -> bool:
        """True once migrated and the tags are synced (their ids known)."""
        return self._ids is not None

    @property
    def tag_ids(self) -> dict[str, int]:
        if self._ids is None:
            raise RuntimeError("Database.prepare() has not succeeded yet")
        return self._ids

    def prepare(self) -> None:
        """Migrate to the newest schema and sync the tags table with the configuration.

        Once it succeeded it does nothing: the tags' infos are then dropped (about
        9 MB at 100k tags, needed for nothing else; docs/performance.md).
        """
        if self._ids is not None:
            return
        upgrade(self.engine, gateway=self.gateway)
        with mapped_errors("syncing the tags table"), self.engine.begin() as connection:
            self._ids = sync_tags(connection, self._infos, gateway=self.gateway)
        self._infos = []

    def next_bd_seq(self, edge_node: str) -> int:
        """The Sparkplug bdSeq of `edge_node`'s next connect (nodestate.py)."""
        if not self.ready:
            self.prepare()
        with mapped_errors("counting the Sparkplug bdSeq"):
            return next_bd_seq(self.engine, edge_node)

    def write(self, rows: Sequence[Row], events: Sequence[AlarmEvent] = ()) -> int:
        """Commit `rows` and `events` in one transaction; return the readings newly stored."""
        ids = self.tag_ids
        # This runs on the storage thread, which shares the GIL with the event loop.
        # Sorted by an int key (ints are not tracked by the garbage collector) and
        # converted row by row as the driver binds them, a batch never holds tens of
        # thousands of new tuples at once: those set off young and middle-generation
        # collections on this thread that held the GIL for 30-130 ms each (measured
        # under `gateway bench latency --variant load`; docs/performance.md).
        ordered = sorted(rows, key=lambda row: ids[row[0]] << 64 | row[1])
        id_rows: Iterator[IdRow] = (
            (ids[key], ts, number, text, status) for key, ts, number, text, status in ordered
        )
        inserted = 0
        with mapped_errors("writing readings"), self.engine.begin() as connection:
            if ordered:
                inserted = insert_sorted(connection, id_rows)
            if events:
                journal = [{**_event_row(e), "gateway": self.gateway} for e in events]
                connection.execute(insert(alarm_events), journal)
                # The outbox rows of these events: in the same transaction, so a
                # notification exists exactly when its journal event does.
                messages = [m for e in events for m in e.notifications]
                insert_messages(connection, messages, gateway=self.gateway)
        return inserted

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _event_row(event: AlarmEvent) -> dict[str, object]:
    number, text = encode_value(event.value)
    return {
        "alarm": event.alarm,
        "ts": to_us(event.time),
        "transition": event.transition,
        "value_num": number,
        "value_str": text,
        "severity": event.severity,
        "message": event.message,
        "user": event.user,
        "comment": event.comment,
        "state": event.state,
        "limit_key": event.limit,
        "shelving": event.shelving,
        "shelved_until": None if event.shelved_until is None else to_us(event.shelved_until),
        "enabled": event.enabled,
    }
