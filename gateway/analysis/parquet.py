"""The pyarrow adapter: records into a Parquet file, written in row groups as they come.

The only module that imports pyarrow (the optional `analysis` extra). Columns
are typed from their names: `time` and `*_time` are UTC timestamps (µs),
`tag` and `*status` text, `text` the values of text tags, every other column
a double (bools as 0/1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gateway.analysis.records import Record

__all__ = ["ParquetSink", "parquet_available"]

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # the `analysis` extra is not installed
    pa = pq = None


def parquet_available() -> bool:
    return pa is not None


def _kind(name: str) -> Any:
    if name == "time" or name.endswith("_time"):
        return pa.timestamp("us", tz="UTC")
    if name in ("tag", "text") or name.endswith("status"):
        return pa.string()
    return pa.float64()


def _cell(name: str, value: object) -> object:
    if value is None:
        return None
    if name == "time" or name.endswith("_time"):
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    if name in ("tag", "text") or name.endswith("status"):
        return str(value)
    if isinstance(value, bool | int | float):
        return float(value)
    return None  # text in a numeric column: kept in `text` (raw) or left empty


class ParquetSink:
    """Writes batches of records to `path` (replaced), one row group per batch."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        if pa is None:
            raise RuntimeError(
                "writing Parquet needs pyarrow: pip install 'modbus-opcua-gateway[analysis]'"
            )
        self.columns = list(columns)
        if "value" in self.columns and "text" not in self.columns:
            self.columns.insert(self.columns.index("value") + 1, "text")
        self.schema = pa.schema([(name, _kind(name)) for name in self.columns])
        self._writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, batch: Sequence[Record]) -> None:
        arrays: dict[str, list[object]] = {}
        for name in self.columns:
            if name == "text":
                values = (record.get("value") for record in batch)
                arrays[name] = [value if isinstance(value, str) else None for value in values]
                continue
            arrays[name] = [_cell(name, record.get(name)) for record in batch]
        self._writer.write_table(pa.table(arrays, schema=self.schema))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
