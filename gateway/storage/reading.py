"""The historian opened for reading only: what `gateway history` and `gateway alarms` show.

The database is never migrated from here, and a schema newer than this code
is refused like at start-up (`schema_state`). Values and journal events are
fetched page by page, so a year of history never sits in memory; turning
them into text is gateway/present/'s part.

Each query names the gateway whose rows it reads (`gateway.name`): the
configured one, or another gateway of a fleet sharing the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, select

from gateway.aggregates import Aggregate, AggregateConfiguration
from gateway.config import StorageConfig
from gateway.model import TagValue
from gateway.storage.aggregates import IntervalRow, aggregate_history, tag_series_info
from gateway.storage.engine import open_engine
from gateway.storage.errors import StorageError, mapped_errors
from gateway.storage.migrate import schema_state
from gateway.storage.outbox import outbox_counts, outbox_rows
from gateway.storage.queries import PAGE_SIZE, alarm_states, iter_alarm_journal, iter_raw
from gateway.storage.rows import AlarmEvent, PendingMessage
from gateway.storage.schema import tags

__all__ = ["PAGE_SIZE", "StoredHistory", "read_only"]


class StoredHistory:
    """Queries on a database opened by `read_only`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def data_type(self, key: str, *, gateway: str) -> str | None:
        """The data type the tags table records for `key` (device.tag), None if unknown."""
        device, _, name = key.partition(".")
        query = select(tags.c.data_type).where(
            tags.c.gateway == gateway, tags.c.device == device, tags.c.name == name
        )
        with mapped_errors("reading the tag's data type"), self._engine.connect() as connection:
            return connection.execute(query).scalar()

    def values(
        self,
        key: str,
        start: float | None = None,
        end: float | None = None,
        *,
        gateway: str,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[TagValue]:
        """Every stored value of `key` in [start, end), oldest first."""
        return iter_raw(self._engine, key, start, end, gateway=gateway, page_size=page_size)

    def keys(self, *, gateway: str) -> list[str]:
        """Every tag of `gateway` with a row in the tags table (device.tag), sorted."""
        query = (
            select(tags.c.device, tags.c.name)
            .where(tags.c.gateway == gateway)
            .order_by(tags.c.device, tags.c.name)
        )
        with mapped_errors("listing the stored tags"), self._engine.connect() as connection:
            return [f"{row.device}.{row.name}" for row in connection.execute(query)]

    def data_range(self, key: str, *, gateway: str) -> tuple[float | None, float | None]:
        """The first and last stored time of `key` (None, None without rows)."""
        with mapped_errors(f"reading the history of {key}"), self._engine.connect() as c:
            info = tag_series_info(c, key, gateway=gateway)
        return info.data_start, info.data_end

    def aggregates(
        self,
        key: str,
        aggregates: Sequence[Aggregate],
        *,
        start: float,
        end: float,
        interval: float,
        gateway: str,
        config: AggregateConfiguration | None = None,
    ) -> Iterator[IntervalRow]:
        """Part 13 aggregates of `key` per interval of [start, end), streamed."""
        return aggregate_history(
            self._engine,
            key,
            aggregates,
            start=start,
            end=end,
            processing=interval,
            gateway=gateway,
            config=config,
        )

    def alarm_journal(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        gateway: str,
        alarm: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[AlarmEvent]:
        """Every journal event in [start, end) (of `alarm`, or all), oldest first."""
        return iter_alarm_journal(
            self._engine, start, end, gateway=gateway, alarm=alarm, page_size=page_size
        )

    def alarm_states(
        self, alarms: Collection[str] | None, *, gateway: str
    ) -> dict[str, AlarmEvent]:
        """The latest journal event of each of `alarms` (None: every alarm journaled):
        what a restarting gateway restores."""
        return alarm_states(self._engine, alarms, gateway=gateway)

    def gateways(self) -> list[str]:
        """The names of the gateways whose tags the database holds, sorted."""
        query = select(tags.c.gateway).distinct().order_by(tags.c.gateway)
        with mapped_errors("reading the gateway names"), self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def notifications(
        self, limit: int, *, gateway: str
    ) -> tuple[dict[str, int], list[PendingMessage]]:
        """How many of `gateway`'s outbox rows are pending, sent, failed; the newest
        `limit`, newest first."""
        return (
            outbox_counts(self._engine, gateway=gateway),
            outbox_rows(self._engine, limit, gateway=gateway),
        )


@contextmanager
def read_only(
    storage: StorageConfig, *, holds: str, up_to_date: bool = False
) -> Iterator[StoredHistory]:
    """The configured database, checked to hold a schema; StorageError saying what to run.

    `holds`: what the caller reads, for the message about an empty database
    ("history", "alarm journal"). `up_to_date`: refuse a schema older than
    this code too (the alarm journal's columns came with a migration).
    """
    engine = open_engine(storage.url, synchronous=storage.synchronous, create=False)
    try:
        state = schema_state(engine)
        if state.current is None:
            raise StorageError(
                f"the database holds no {holds} yet (no schema): start the gateway or run "
                "`gateway db upgrade -c FILE`"
            )
        if up_to_date and not state.up_to_date:
            raise StorageError(
                f"the database schema is at revision {state.current}, older than this "
                f"gateway's {state.head}: run `gateway db upgrade -c FILE` (or start the "
                "gateway) first"
            )
        yield StoredHistory(engine)
    finally:
        engine.dispose()
