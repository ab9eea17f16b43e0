"""`gateway export`: many tags' history, raw or aggregated, streamed into CSV or Parquet.

Records are written as they are read (CSV line by line, Parquet one row
group per BATCH records), so memory stays flat whatever the range; the
file is written next to its target and renamed into place when complete,
so an interrupted export never leaves a truncated file behind.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from gateway.analysis.parquet import ParquetSink
from gateway.analysis.records import HistoryRequest, Record, columns, match_tags, records
from gateway.config import StorageConfig
from gateway.present.values import format_time, format_value
from gateway.storage.reading import read_only

__all__ = ["BATCH", "ExportFormat", "export_history", "format_of"]

#: Records per Parquet row group (and per progress update).
BATCH = 10_000
ExportFormat = str  # "csv" | "parquet"


def format_of(path: Path) -> ExportFormat:
    """The format a file name asks for; ValueError for another suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{path}: the output file must end in .csv or .parquet")


def _csv_cell(name: str, value: object) -> str:
    if name == "time" or name.endswith("_time"):
        return format_time(value)  # type: ignore[arg-type]
    return format_value(value)  # type: ignore[arg-type]


def _write_csv(
    path: Path, names: Sequence[str], rows: Iterator[Record], tick: Callable[[int], None]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for record in rows:
            writer.writerow([_csv_cell(name, record.get(name)) for name in names])
            tick(1)


def _write_parquet(
    path: Path, names: Sequence[str], rows: Iterator[Record], tick: Callable[[int], None]
) -> None:
    with ParquetSink(path, names) as sink:
        while batch := list(islice(rows, BATCH)):
            sink.write(batch)
            tick(len(batch))


def export_history(
    storage: StorageConfig,
    request: HistoryRequest,
    path: Path,
    *,
    tick: Callable[[int], None] = lambda _count: None,
) -> tuple[list[str], int]:
    """Write the records of `request` to `path`; (the tags exported, records written)."""
    kind = format_of(path)
    names = columns(request)
    written = 0

    def counted(count: int) -> None:
        nonlocal written
        written += count
        tick(count)

    partial = path.with_name(f".{path.name}.partial")
    with read_only(storage, holds="history") as history:
        keys = match_tags(history, request.patterns, gateway=request.gateway)
        rows = records(history, keys, request)
        try:
            if kind == "csv":
                _write_csv(partial, names, rows, counted)
            else:
                _write_parquet(partial, names, rows, counted)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, path)
    return keys, written
