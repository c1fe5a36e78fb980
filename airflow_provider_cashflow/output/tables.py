"""Lake tables as a target: ``table="iceberg:<namespace>.<table>"`` or ``table="delta:<url>"``, one schema for both
formats, and a run's window as one Arrow table, checked against the window before it is committed.

A table holds every account's cash flows: the record's columns (the files' columns), then ``account`` (the
connection id) and ``date`` (the local day of ``partition_timezone``), the two partition columns. A run replaces the
rows of its account and its window's days in one commit (:mod:`.iceberg_table`, :mod:`.delta_table`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.domain.calendar import local_date
from airflow_provider_cashflow.domain.models import FIELDS, Field
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError, OutputFormatError
from airflow_provider_cashflow.output.formats import PARQUET_BALANCE_SCALE, Record

__all__ = [
    "ACCOUNT",
    "DATE",
    "TABLE_FORMATS",
    "TableCommit",
    "TableTarget",
    "arrow_schema",
    "check_rows",
    "parse_table",
    "require",
    "to_arrow",
]

TABLE_FORMATS = ("iceberg", "delta")
ACCOUNT, DATE = "account", "date"
_EXTRAS = {"iceberg": ("pyiceberg", "iceberg"), "delta": ("deltalake", "delta")}
_UTC = ZoneInfo("UTC")
_BATCH = 100_000  # records per Arrow batch: Python objects of one batch at a time, not of the window


@dataclass(frozen=True)
class TableTarget:
    """Where a run lands: an Iceberg table of a catalog, or a Delta table at a URL.

    :param format: ``iceberg`` or ``delta``.
    :param name: Iceberg: ``namespace.table`` in the catalog; Delta: the table's URL (``file://``, ``s3://``).
    :param conn_id: Iceberg: the catalog's connection (type ``iceberg``); Delta: the storage's (``aws``), or
        ``None``.
    :param timezone: the zone whose local days fill the ``date`` column (``partition_timezone``).
    :param fields: the records' columns (a US account's native ones differ).
    """

    format: str
    name: str
    conn_id: str | None = None
    timezone: ZoneInfo = _UTC
    fields: tuple[Field, ...] = FIELDS

    def __str__(self) -> str:
        return f"{self.format}:{self.name}"


def parse_table(value: Any, output_path: Any = None) -> TableTarget:
    """The target ``table=`` names; a clear error for anything else, before any call."""
    hint = "e.g. table='iceberg:cashflow.flows' (a catalog table) or table='delta:s3://bucket/lake/cashflow'"
    if output_path:
        raise LongPortConfigError(
            f"table={value!r} and output_path={output_path!r} are two targets: give one (a table holds every day "
            "and every account in one place; files are one per day)"
        )
    if not isinstance(value, str) or ":" not in value:
        raise LongPortConfigError(
            f"table must be '<format>:<table>' with format iceberg or delta, {hint}; got {value!r}"
        )
    kind, _, name = value.partition(":")
    if kind not in TABLE_FORMATS:
        raise LongPortConfigError(f"table format must be one of {', '.join(TABLE_FORMATS)}, {hint}; got {value!r}")
    if kind == "iceberg" and (name.count(".") < 1 or "" in name.split(".") or "/" in name or "{" in name):
        raise LongPortConfigError(
            f"an Iceberg table is named '<namespace>.<table>' in its catalog, e.g. table='iceberg:cashflow.flows' "
            f"(one table for every account and day: no placeholder); got {value!r}"
        )
    if kind == "delta" and ("://" not in name or "{" in name):
        raise LongPortConfigError(
            f"a Delta table is named by its URL, e.g. table='delta:s3://bucket/lake/cashflow' or "
            f"'delta:file:///data/lake/cashflow' (one table for every account and day: no placeholder); got {value!r}"
        )
    return TableTarget(kind, name)


def require(table_format: str) -> None:
    """The format's library is installed; else the extra to install."""
    module, extra = _EXTRAS[table_format]
    try:
        __import__(module)
        import pyarrow  # noqa: F401
    except ImportError:
        raise LongPortConfigError(
            f"table='{table_format}:...' needs {module}, which is not installed: "
            f"pip install 'airflow-provider-cashflow[{extra}]'"
        ) from None


@dataclass(frozen=True)
class TableCommit:
    """The one commit a run made: the table, and the snapshot (Iceberg) or version (Delta) it created.

    :param previous: the table's snapshot id or version just before this commit (``None``: the table was new):
        time travel there to see the table as it was.
    :param bytes: the data files the window now holds.
    """

    format: str
    name: str
    location: str
    records: int
    bytes: int
    snapshot_id: int | None = None
    version: int | None = None
    previous: int | None = None
    catalog: str | None = None
    metadata_location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": self.format, "name": self.name, "location": self.location}
        if self.format == "iceberg":
            data.update(
                catalog=self.catalog,
                snapshot_id=self.snapshot_id,
                previous_snapshot_id=self.previous,
                metadata_location=self.metadata_location,
            )
        else:
            data.update(version=self.version, previous_version=self.previous)
        return data


def _arrow_type(field: Field) -> Any:
    import pyarrow as pa

    if field.is_code:
        return pa.int32()  # Iceberg has no int16: both formats get one schema
    if field.type is Decimal:
        return pa.decimal128(38, PARQUET_BALANCE_SCALE)
    if field.type is datetime:
        return pa.timestamp("us", tz="UTC")  # Iceberg's timestamptz: UTC microseconds, no other unit or zone
    return pa.string()


def arrow_schema(fields: tuple[Field, ...] = FIELDS) -> Any:
    """The record's columns, then ``account`` and ``date``, the partition columns."""
    import pyarrow as pa

    columns = [pa.field(f.name, _arrow_type(f), nullable=f.nullable) for f in fields]
    return pa.schema([*columns, pa.field(ACCOUNT, pa.string(), nullable=False), pa.field(DATE, pa.date32(), False)])


def to_arrow(
    parts: Iterable[tuple[Window, Iterable[Record]]], account: str, tz: ZoneInfo, fields: tuple[Field, ...] = FIELDS
) -> Any:
    """Every record of every ``(day, records)`` part as one Arrow table; a record's ``date`` is its part's day."""
    import pyarrow as pa

    schema = arrow_schema(fields)
    batches: list[Any] = []
    columns: list[list[Any]] = [[] for _ in range(len(fields) + 1)]

    def flush() -> None:
        if not columns[0]:
            return
        size = len(columns[0])
        arrays = [*columns[:-1], [account] * size, columns[-1]]  # the fields, account, date
        try:
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise OutputFormatError(
                f"a record does not fit the table's columns ({error}); a balance must fit "
                f"decimal(38, {PARQUET_BALANCE_SCALE}): write this interval as jsonl or csv, which keep the exact text"
            ) from None
        for column in columns:
            column.clear()

    for part, records in parts:
        day = local_date(part.start, tz)
        for record in records:
            for column, value in zip(columns, record, strict=False):
                column.append(value)
            columns[-1].append(day)
            if len(columns[0]) >= _BATCH:
                flush()
    flush()
    return pa.Table.from_batches(batches, schema=schema)


def check_rows(data: Any, account: str, window: Window, tz: ZoneInfo, *, times: bool) -> None:
    """Every row belongs to the account and the window's days (and with ``times``, its ``business_time`` to the
    window), or nothing is written: Iceberg would store a stray row outside the rows it replaces, and a later run
    of that day would not replace it."""
    import pyarrow.compute as pc

    if data.num_rows == 0:
        return
    first, last = days_of(window, tz)
    low, high = pc.min_max(data[DATE]).values()
    problem = None
    if pc.any(pc.not_equal(data[ACCOUNT], account)).as_py():
        problem = f"a row of another account than {account!r}"
    elif low.as_py() < first or high.as_py() > last:
        problem = f"a row of {low} to {high}, outside the days {first} to {last}"
    elif times:
        earliest, latest = pc.min_max(data["business_time"]).values()
        if earliest.as_py() < window.start or latest.as_py() >= window.end:
            problem = f"a business_time of {earliest} to {latest}"
    if problem:
        raise OutputFormatError(f"nothing written: {problem} is outside the run's window {window}")


def days_of(window: Window, tz: ZoneInfo) -> tuple[date, date]:
    """The first and the last local day of a whole-day window."""
    days = list(window.days(tz))
    return local_date(days[-1].start, tz), local_date(days[0].start, tz)


def check_whole_days(window: Window, tz: ZoneInfo) -> None:
    """A run replaces whole local days of its account: a part of a day would drop the rest of it."""
    if not window.is_whole_days(tz):
        raise LongPortConfigError(
            f"a table run replaces whole days of partition_timezone={tz.key!r} for its account, but the window {window} "
            "does not start and end at midnight there. Set partition_timezone to the schedule's time zone, or schedule "
            f"the DAG at midnight {tz.key}"
        )
