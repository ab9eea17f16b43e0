"""`gateway alarms`: the alarm journal, or the alarms not normal, as text lines.

Like `gateway history` (history.py): the database is opened for reading only
(gateway/storage/reading.py) and the journal is streamed page by page. The
current states are the latest journal event of each alarm, which is exactly
what a restarting gateway restores. Both read one gateway's journal: the
configured gateway's, or another's in a fleet's shared database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator
from dataclasses import replace
from enum import StrEnum
from itertools import chain

from gateway.config import StorageConfig
from gateway.present.values import format_time
from gateway.storage.reading import PAGE_SIZE, read_only
from gateway.storage.rows import AlarmEvent

__all__ = [
    "JOURNAL_COLUMNS",
    "NOTIFICATION_COLUMNS",
    "STATE_COLUMNS",
    "AlarmFormat",
    "active_lines",
    "journal_lines",
    "notification_lines",
]

JOURNAL_COLUMNS = (
    "time",
    "alarm",
    "transition",
    "state",
    "limit",
    "severity",
    "value",
    "message",
    "user",
    "comment",
)
#: The latest entry of each alarm: its transition too, so that a cleared alarm's kept
#: message ("… above 8.5") is read as what it was, not what it is.
STATE_COLUMNS = ("time", "alarm", "transition", "state", "limit", "severity", "value", "message")
#: Table column widths (the last column is never padded).
_WIDTHS = {
    "time": 32,
    "alarm": 20,
    "transition": 13,
    "state": 14,
    "limit": 9,
    "severity": 8,
    "value": 12,
    "message": 40,
    "user": 12,
}
_NORMAL = "normal"
#: `--notifications`: the newest outbox rows, and why each is where it is.
NOTIFICATION_COLUMNS = (
    "time",
    "alarm",
    "transition",
    "channel",
    "status",
    "attempts",
    "next/sent",
    "why",
)
_NOTIFICATION_WIDTHS = {
    "time": 32,
    "alarm": 20,
    "transition": 13,
    "channel": 14,
    "status": 8,
    "attempts": 8,
    "next/sent": 32,
}


class AlarmFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"


def _value(event: AlarmEvent) -> str:
    value = event.value
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _fields(event: AlarmEvent) -> dict[str, str]:
    return {
        "time": format_time(event.time),
        "alarm": event.alarm,
        "transition": event.transition,
        "state": (event.state or "") + _service_marks(event),
        "limit": event.limit or "",
        "severity": str(event.severity),
        "value": _value(event),
        "message": event.message,
        "user": event.user or "",
        "comment": event.comment or "",
    }


def _service_marks(event: AlarmEvent) -> str:
    """ ", shelved", ", shelved until <time>", ", disabled": what an operator set."""
    marks = ""
    if event.shelving in ("oneshot", "timed"):
        marks += ", shelved"
        if event.shelved_until is not None:
            marks += f" until {format_time(event.shelved_until)}"
    if event.enabled is False:
        marks += ", disabled"
    return marks


def _silenced(event: AlarmEvent) -> bool:
    return event.shelving in ("oneshot", "timed") or event.enabled is False


def _lines(
    events: Iterable[AlarmEvent],
    columns: tuple[str, ...],
    format: AlarmFormat,
    names: Iterable[str] = (),
) -> Iterator[str]:
    """Header and rows; the alarm column is as wide as the longest of `names` (the
    configured alarms: the journal streams, so its own names are not known up front)."""
    rows = chain([dict(zip(columns, columns, strict=True))], (_fields(e) for e in events))
    if format is AlarmFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="")
        for row in rows:  # lazily: events stream
            writer.writerow([row[c] for c in columns])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        return
    last = columns[-1]
    widths = {**_WIDTHS, "alarm": max((len(n) for n in names), default=0)}
    widths["alarm"] = max(widths["alarm"], _WIDTHS["alarm"])
    for row in rows:
        cells = [row[c] if c == last else f"{row[c]:<{widths[c]}}" for c in columns]
        yield "  ".join(cells).rstrip()


def journal_lines(
    storage: StorageConfig,
    start: float | None = None,
    end: float | None = None,
    *,
    gateway: str,
    alarm: str | None = None,
    format: AlarmFormat = AlarmFormat.TABLE,
    page_size: int = PAGE_SIZE,
    names: Collection[str] = (),
) -> Iterator[str]:
    """Header then one line per journal event of `gateway` in [start, end), oldest first.

    `names`: the configured alarms, for the width of the table's alarm column.
    """
    with read_only(storage, holds="alarm journal", up_to_date=True) as history:
        events = history.alarm_journal(
            start, end, gateway=gateway, alarm=alarm, page_size=page_size
        )
        yield from _lines(events, JOURNAL_COLUMNS, format, names)


def active_lines(
    storage: StorageConfig,
    alarms: Collection[str] | None,
    *,
    gateway: str,
    format: AlarmFormat = AlarmFormat.TABLE,
) -> Iterator[str]:
    """Header then one line per alarm of `gateway` that is not normal, shelved or
    disabled, by name: of `alarms`, or (None) of every alarm in its journal."""
    with read_only(storage, holds="alarm journal", up_to_date=True) as history:
        latest = history.alarm_states(alarms, gateway=gateway)
    current = [replace(e, state=e.state_after) for e in latest.values()]
    current = [e for e in current if e.state != _NORMAL or _silenced(e)]
    yield from _lines(current, STATE_COLUMNS, format, alarms or latest)


def notification_lines(
    storage: StorageConfig,
    *,
    gateway: str,
    limit: int = 50,
    format: AlarmFormat = AlarmFormat.TABLE,
) -> Iterator[str]:
    """A count line (pending, sent, failed), then `gateway`'s newest `limit` outbox rows."""
    with read_only(storage, holds="notification outbox", up_to_date=True) as history:
        counts, rows = history.notifications(limit, gateway=gateway)
    if format is AlarmFormat.TABLE:
        yield (
            f"notifications: {counts['pending']} pending, {counts['sent']} sent, "
            f"{counts['failed']} failed (newest {len(rows)} below)"
        )
    header = dict(zip(NOTIFICATION_COLUMNS, NOTIFICATION_COLUMNS, strict=True))
    cells = [header] + [
        {
            "time": format_time(row.message.time),
            "alarm": row.message.alarm,
            "transition": row.message.transition,
            "channel": row.message.channel,
            "status": row.status,
            "attempts": str(row.attempts),
            "next/sent": format_time(row.sent_time if row.sent_time else row.next_try)
            if row.status != "failed"
            else "",
            "why": row.last_error or "",
        }
        for row in rows
    ]
    if format is AlarmFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="")
        for cell in cells:
            writer.writerow([cell[c] for c in NOTIFICATION_COLUMNS])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        return
    for cell in cells:
        parts = [
            cell[c] if c == "why" else f"{cell[c]:<{_NOTIFICATION_WIDTHS[c]}}"
            for c in NOTIFICATION_COLUMNS
        ]
        yield "  ".join(parts).rstrip()
