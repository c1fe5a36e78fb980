"""File formats for cash flows: JSONL, CSV and Parquet, streamed record by record, byte-stable across runs."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO, Protocol

from airflow_provider_cashflow.defaults import PARQUET_ROW_GROUP_SIZE
from airflow_provider_cashflow.domain.models import FIELDS, Field
from airflow_provider_cashflow.errors import LongPortConfigError, OutputFormatError

__all__ = [
    "FORMATS",
    "RecordWriter",
    "open_writer",
    "read_rows",
    "resolve_compression",
    "row_key",
    "validate_row_group_size",
]

# format -> (allowed compressions, default)
FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    "jsonl": (("none", "gzip"), "none"),
    "csv": (("none", "gzip"), "none"),
    "parquet": (("none", "snappy", "gzip", "zstd"), "snappy"),
}
PARQUET_BALANCE_SCALE = 12


def resolve_compression(file_format: str, compression: str | None) -> str:
    """Validate the pair and fill in the format's default compression."""
    if file_format not in FORMATS:
        raise LongPortConfigError(f"file_format must be one of {', '.join(FORMATS)}; got {file_format!r}")
    allowed, default = FORMATS[file_format]
    chosen = default if compression in (None, "") else str(compression).lower()
    if chosen not in allowed:
        raise LongPortConfigError(
            f"compression {compression!r} does not fit file_format {file_format!r}; use one of {', '.join(allowed)}"
        )
    return chosen


def validate_row_group_size(value: object) -> int:
    """A positive whole number of records per Parquet row group."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LongPortConfigError(
            f"parquet_row_group_size must be a whole number of records of 1 or more (default {PARQUET_ROW_GROUP_SIZE}), got {value!r}"
        )
    return value


class Record(Protocol):
    """A record the formats write: a named tuple of :class:`Field` values with a JSON-safe ``to_dict``
    (:class:`~airflow_provider_cashflow.domain.models.CashFlow`, or a US account's native ``UsTransaction``)."""

    def to_dict(self) -> dict[str, Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class RecordWriter(Protocol):
    records: int

    def write(self, flow: Record) -> None: ...

    def close(self) -> None: ...


def _gzip(raw: BinaryIO) -> BinaryIO:
    # mtime=0 and no file name: the same records give the same bytes on every run
    return gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="")  # type: ignore[return-value]


class _TextWriter:
    def __init__(self, raw: BinaryIO, compression: str):
        self._compressed = _gzip(raw) if compression == "gzip" else None
        self._text = io.TextIOWrapper(self._compressed or raw, encoding="utf-8", newline="", write_through=False)
        self.records = 0

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
        if self._compressed is not None:
            self._compressed.close()


class JsonlWriter(_TextWriter):
    """One ``CashFlow.to_dict()`` object per line, UTF-8, compact separators."""

    def write(self, flow: Record) -> None:
        self._text.write(json.dumps(flow.to_dict(), ensure_ascii=False, separators=(",", ":")))
        self._text.write("\n")
        self.records += 1


class CsvWriter(_TextWriter):
    """A header with the API's field names, then one row per record; ``None`` is an empty cell."""

    def __init__(self, raw: BinaryIO, compression: str, fields: tuple[Field, ...] = FIELDS):
        super().__init__(raw, compression)
        self._names = [f.name for f in fields]
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(self._names)

    def write(self, flow: Record) -> None:
        row = flow.to_dict()
        self._csv.writerow(["" if row[name] is None else row[name] for name in self._names])
        self.records += 1


def _arrow_type(field: Field) -> Any:
    import pyarrow as pa

    if field.is_code:
        return pa.int16()
    if field.type is Decimal:
        return pa.decimal128(38, PARQUET_BALANCE_SCALE)
    if field.type is datetime:
        return pa.timestamp("ms", tz="UTC")  # Parquet has no seconds unit
    return pa.string()


def parquet_schema(fields: tuple[Field, ...] = FIELDS) -> Any:
    """Typed columns from the record's schema: int16 codes, decimal amounts, UTC timestamps, text."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, _arrow_type(f), nullable=f.nullable) for f in fields])


def require_pyarrow() -> None:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise LongPortConfigError(
            "file_format='parquet' needs pyarrow, which is not installed: "
            "pip install 'airflow-provider-cashflow[parquet]'"
        ) from None


class ParquetWriter:
    """Typed Parquet (decimal balance, UTC timestamp, int16 codes), in row groups of a fixed record count.

    Row groups are cut by count, not by API page, so the bytes do not depend on how the data was fetched.
    """

    def __init__(self, raw: BinaryIO, compression: str, row_group_size: int, fields: tuple[Field, ...] = FIELDS):
        import pyarrow.parquet as pq

        self._names = [f.name for f in fields]
        self._schema = parquet_schema(fields)
        self._writer = pq.ParquetWriter(
            raw, self._schema, compression=compression.upper() if compression != "none" else "NONE"
        )
        self._row_group_size = row_group_size
        self._new_columns()
        self.records = 0

    def _new_columns(self) -> None:
        # Columns, not records: their values (text, Decimal, datetime, enum members) are nothing the garbage
        # collector tracks, where a row group of held CashFlow tuples would be scanned by every full collection.
        self._columns: list[list[Any]] = [[] for _ in self._names]
        self._appends = [column.append for column in self._columns]

    def write(self, flow: Record) -> None:
        for append, value in zip(self._appends, flow, strict=True):
            append(value)
        self.records += 1
        if len(self._columns[0]) >= self._row_group_size:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._columns[0]:
            return
        try:
            # an enum code is an int to Arrow, as its column's int16 type asks
            table = pa.Table.from_pydict(dict(zip(self._names, self._columns, strict=True)), schema=self._schema)
        except pa.ArrowInvalid as error:
            # closed now, while its (temporary, soon discarded) file is still open: else its finaliser writes late
            self._writer.close()
            raise OutputFormatError(
                f"a balance does not fit Parquet decimal(38, {PARQUET_BALANCE_SCALE}) without loss ({error}); "
                "write this interval as jsonl or csv, which keep the exact text"
            ) from None
        self._writer.write_table(table)
        self._new_columns()

    def close(self) -> None:
        self._flush()
        self._writer.close()


def open_writer(
    raw: BinaryIO,
    file_format: str,
    compression: str,
    *,
    row_group_size: int,
    fields: tuple[Field, ...] = FIELDS,
) -> RecordWriter:
    """A writer of records with ``fields`` (default: the cash-flow columns) in ``file_format``."""
    if file_format == "jsonl":
        return JsonlWriter(raw, compression)
    if file_format == "csv":
        return CsvWriter(raw, compression, fields)
    return ParquetWriter(raw, compression, row_group_size, fields)


def read_rows(raw: BinaryIO, file_format: str, compression: str) -> Iterator[dict[str, Any]]:
    """The records of a file this module wrote, as ``to_dict()``-shaped rows (CSV's are all text, Parquet's
    amounts are ``Decimal`` at the file's scale and its times ``datetime``: compare rows through :func:`row_key`)."""
    if file_format == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(raw).iter_batches():
            yield from batch.to_pylist()
        return
    stream: BinaryIO = _gunzip(raw) if compression == "gzip" else raw
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    if file_format == "jsonl":
        for line in text:
            if line.strip():
                yield json.loads(line)
        return
    yield from csv.DictReader(text)


def _gunzip(raw: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def _key_part(field: Field, value: Any) -> Any:
    if value is None or value == "":
        # CSV writes an absent value as an empty cell: the two are one value
        return None if field.nullable else ""
    if field.is_code:
        return int(value)
    if field.type is Decimal:
        return Decimal(str(value)).normalize()
    if field.type is datetime:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value)
    return value


def row_key(row: dict[str, Any], fields: tuple[Field, ...] = FIELDS) -> tuple[Any, ...]:
    """What makes two rows the same record, whatever format carried them: exact amounts, times to the second,
    an absent value and an empty one alike."""
    return tuple(_key_part(f, row[f.name]) for f in fields)
