"""Writes one window of cash flows to object storage, a file per partition, and describes what it wrote."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.defaults import PARQUET_ROW_GROUP_SIZE
from airflow_provider_cashflow.domain.calendar import local_date
from airflow_provider_cashflow.domain.models import FIELDS, CashFlow, Field
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.output.formats import Record, open_writer, read_rows, row_key
from airflow_provider_cashflow.output.partitions import split
from airflow_provider_cashflow.output.storage import atomic_write, open_target, prepare_target

__all__ = ["OutputSpec", "write_parts", "write_window"]

log = logging.getLogger(__name__)
DATE_PLACEHOLDER = "{date}"


class _CountingStream:
    """Counts the bytes that reach storage, so the manifest needs no second look at the file."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return self._raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.bytes


@dataclass(frozen=True)
class OutputSpec:
    """Where and how to write.

    :param path: URL template; ``{date}`` becomes the partition's local date (YYYY-MM-DD) in ``timezone``.
    :param conn_id: the storage connection (``None``: the scheme's default).
    :param file_format: ``jsonl``, ``csv`` or ``parquet``.
    :param compression: resolved compression for the format.
    :param partition_by: ``interval`` (one file) or ``day`` (one file per local day of ``timezone``).
    :param write_empty: write a valid empty file for a partition with no records; if False, no file, and
        one left by an earlier run at that path is removed so the output matches the data.
    :param timezone: IANA name of the zone whose days partition the output (``partition_timezone``).
    :param compare: read each file back before replacing it and report the records it gained and lost.
    :param fields: the records' columns (default: the cash-flow columns; a US account's native ones differ).
    """

    path: str
    conn_id: str | None
    file_format: str
    compression: str
    partition_by: str = "interval"
    write_empty: bool = True
    row_group_size: int = PARQUET_ROW_GROUP_SIZE
    timezone: str = "UTC"
    compare: bool = False
    fields: tuple[Field, ...] = FIELDS
    targets: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.partition_by == "day" and DATE_PLACEHOLDER not in self.path:
            raise LongPortConfigError(
                f"partition_by='day' writes one file per day, so output_path needs a {DATE_PLACEHOLDER} placeholder, "
                f"e.g. s3://bucket/cashflow/date={DATE_PLACEHOLDER}/cashflow.jsonl; got {self.path!r}"
            )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def url_for(self, part: Window) -> str:
        return self.path.replace(DATE_PLACEHOLDER, local_date(part.start, self.tz).isoformat())

    def target_for(self, part: Window) -> Any:
        url = self.url_for(part)
        if url not in self.targets:
            self.targets[url] = open_target(url, self.conn_id)
        return self.targets[url]

    def check_partitions(self, window: Window) -> None:
        """Refuse a window whose files another run would overwrite with its own records.

        Refusing, not merging: a file is replaced whole by the one run that owns it, so no format has to be read
        back and merged, and the file a run writes holds exactly that run's view.
        """
        tz = self.tz
        local = f"{window.start.astimezone(tz):%Y-%m-%d %H:%M} to {window.end.astimezone(tz):%Y-%m-%d %H:%M} {self.timezone}"
        if self.partition_by == "day" and not window.is_whole_days(tz):
            raise LongPortConfigError(
                f"partition_by='day' writes one file per day of partition_timezone={self.timezone!r}, but the window "
                f"{window} ({local}) does not start and end at midnight there: its first or last file would hold only "
                "part of a day, and the neighbouring run would overwrite it with its own part. Set partition_timezone "
                "to the time zone of the schedule (e.g. 'Asia/Hong_Kong' for a DAG scheduled at Hong Kong midnight), "
                f"or schedule the DAG at midnight {self.timezone}"
            )
        if (
            self.partition_by == "interval"
            and DATE_PLACEHOLDER in self.path
            and local_date(window.start, tz) == local_date(window.end, tz)
        ):
            raise LongPortConfigError(
                f"output_path names a run's file by {DATE_PLACEHOLDER}, the date its window starts on in "
                f"partition_timezone={self.timezone!r}, but the window {window} ({local}) ends on that same date, so "
                "the next run would write a file of the same name over this one. Use partition_by='day', a schedule "
                "of at least one day, or an output_path without {date} that is unique per run"
            )

    def check(self, window: Window) -> None:
        """Everything that can fail before the first API call: scheme, filesystem, folder, pyarrow."""
        if self.file_format == "parquet":
            from airflow_provider_cashflow.output.formats import require_pyarrow

            require_pyarrow()
        self.check_partitions(window)
        parts = list(window.days(self.tz)) if self.partition_by == "day" else [window]
        prepare_target(self.target_for(parts[0]))
        if len(parts) > 1:
            prepare_target(self.target_for(parts[-1]))


def write_window(records: Iterable[CashFlow], window: Window, spec: OutputSpec) -> dict[str, Any]:
    """Stream ``records`` (newest first) into one file per part; returns the manifest."""
    return write_parts(split(window, records, spec.partition_by, spec.tz), window, spec)


def write_parts(parts: Iterable[tuple[Window, Iterable[Record]]], window: Window, spec: OutputSpec) -> dict[str, Any]:
    """Write each ``(part, records of part)`` (newest part first, every part of ``window``) to the part's file;
    returns the manifest. The caller decides which part a record is in (a US account: the day whose read
    returned it)."""
    files = []
    rewritten = []
    for part, part_records in parts:
        if spec.compare:
            change = _Change(spec, part)
            files.append(_write_part(part, change.counting(part_records), spec))
            rewritten.append(change.summary())
        else:
            files.append(_write_part(part, part_records, spec))
    files.reverse()  # oldest first reads naturally
    manifest = {
        "interval": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "format": spec.file_format,
        "compression": spec.compression,
        "partition_by": spec.partition_by,
        "partition_timezone": spec.timezone,
        "records": sum(f["records"] for f in files),
        "bytes": sum(f["bytes"] for f in files),
        "files": [f for f in files if f["path"] is not None],
    }
    if spec.compare:
        manifest["rewritten"] = rewritten[::-1]
    return manifest


class _Change:
    """What rewriting one part's file changed: the records it gained and lost, compared as multisets (identical
    records are legitimate, so two equal fees are two records)."""

    def __init__(self, spec: OutputSpec, part: Window):
        self.date = local_date(part.start, spec.tz).isoformat()
        target = spec.target_for(part)
        self.replaced = bool(target.exists())
        self.before: Counter[tuple[Any, ...]] = Counter()
        if self.replaced:
            with target.open("rb") as raw:
                rows = read_rows(raw, spec.file_format, spec.compression)
                self.before.update(row_key(row, spec.fields) for row in rows)
        self.after: Counter[tuple[Any, ...]] = Counter()
        self._fields = spec.fields

    def counting(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.after[row_key(record.to_dict(), self._fields)] += 1
            yield record

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "replaced": self.replaced,
            "records": sum(self.after.values()),
            "gained": sum((self.after - self.before).values()),
            "lost": sum((self.before - self.after).values()),
        }


def _write_part(part: Window, records: Iterable[Record], spec: OutputSpec) -> dict[str, Any]:
    target = spec.target_for(part)
    first = next(iter_ := iter(records), None)
    if first is None and not spec.write_empty:
        if target.exists():
            target.unlink()
            log.info("no records in %s: removed %s left by an earlier run", part, target)
        return {"path": None, "records": 0, "bytes": 0}
    prepare_target(target)
    with atomic_write(target) as raw:
        stream = _CountingStream(raw)
        writer = open_writer(
            stream,  # type: ignore[arg-type]
            spec.file_format,
            spec.compression,
            row_group_size=spec.row_group_size,
            fields=spec.fields,
        )
        if first is not None:
            writer.write(first)
            for record in iter_:
                writer.write(record)
        writer.close()
    log.info("wrote %d records (%d bytes) for %s to %s", writer.records, stream.bytes, part, target)
    return {
        "path": str(target),
        "start": part.start.isoformat(),
        "end": part.end.isoformat(),
        "records": writer.records,
        "bytes": stream.bytes,
    }
