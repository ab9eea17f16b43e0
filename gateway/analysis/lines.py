"""Aggregated history as text lines for people: a table, CSV or JSON lines (streamed)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence

from gateway.analysis.records import Record
from gateway.present.values import format_time, format_value

__all__ = ["record_lines"]

_TIME_WIDTH = 32
_CELL_WIDTH = 14


def _cell(name: str, value: object, *, short: bool = False) -> str:
    """`short`: floats to 6 significant digits (the table); else exact (CSV)."""
    if name == "time" or name.endswith("_time"):
        return format_time(value)  # type: ignore[arg-type]
    if short and isinstance(value, float):
        return f"{value:.6g}"
    return format_value(value)  # type: ignore[arg-type]


def _table(names: Sequence[str], rows: Iterator[Record]) -> Iterator[str]:
    """Values in columns; a status only where it is not plain Good (after the value)."""
    shown = [n for n in names if not n.endswith("_status") and n != "time"]
    tag_width = max(12, *(len(n) for n in shown))
    yield (
        f"{'time':<{_TIME_WIDTH}}  "
        + "  ".join(f"{n:<{tag_width if n == 'tag' else _CELL_WIDTH}}" for n in shown).rstrip()
    )
    for record in rows:
        cells = []
        for name in shown:
            text = _cell(name, record.get(name), short=True)
            status = record.get(f"{name}_status")
            if isinstance(status, str) and not status.startswith("Good"):
                text = f"{text} ({status})" if text else f"({status})"
            cells.append(f"{text:<{tag_width if name == 'tag' else _CELL_WIDTH}}")
        yield f"{_cell('time', record['time']):<{_TIME_WIDTH}}  " + "  ".join(cells).rstrip()


def _csv(names: Sequence[str], rows: Iterator[Record]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="")
    writer.writerow(names)
    yield out.getvalue()
    for record in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([_cell(name, record.get(name)) for name in names])
        yield out.getvalue()


def _json(names: Sequence[str], rows: Iterator[Record]) -> Iterator[str]:
    for record in rows:
        shown = {
            n: (format_time(record.get(n)) if n == "time" or n.endswith("_time") else record.get(n))  # type: ignore[arg-type]
            for n in names
        }
        yield json.dumps(shown, allow_nan=False, default=str)


def record_lines(names: Sequence[str], rows: Iterator[Record], form: str) -> Iterator[str]:
    """`form`: table, csv or json (one JSON object per line, no header)."""
    if form == "csv":
        return _csv(names, rows)
    if form == "json":
        return _json(names, rows)
    return _table(names, rows)
