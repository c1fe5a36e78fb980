"""Writes one window of cash flows to object storage, a file per partition, and describes what it wrote."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.defaults import PARQUET_ROW_GROUP_SIZE
from airflow_provider_cashflow.domain.calendar import local_date
from airflow_provider_cashflow.domain.models import FIELDS, CashFlow, Field
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.output.formats import Record, open_writer, read_rows, row_key
from airflow_provider_cashflow.output.manifest import DayChange, FileEntry
from airflow_provider_cashflow.output.partitions import split
from airflow_provider_cashflow.output.storage import atomic_write, open_target, prepare_target

__all__ = [
    "OutputSpec",
    "Written",
    "check_date_window",
    "check_day_path",
    "is_longer_than_a_day",
    "write_parts",
    "write_window",
]

log = logging.getLogger(__name__)
DATE_PLACEHOLDER = "{date}"
_UTC = ZoneInfo("UTC")
_DAY = timedelta(days=1)


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


def check_day_path(partition_by: str, path: str) -> None:
    """One file per day needs a ``{date}`` in its path to tell the days' files apart."""
    if partition_by == "day" and DATE_PLACEHOLDER not in path:
        raise LongPortConfigError(
            f"partition_by='day' writes one file per day, so output_path needs a {DATE_PLACEHOLDER} placeholder, "
            f"e.g. s3://bucket/cashflow/date={DATE_PLACEHOLDER}/cashflow.jsonl; got {path!r}"
        )


def check_date_window(path: str, partition_by: str, window: Window, tz: ZoneInfo) -> None:
    """``{date}`` names one local day: a window longer than a day (24 hours, and a day on ``tz``'s clock, so a DST
    day is still one) written to one file under it would put several days under one date, which every
    hive-partitioned reader takes for that one day."""
    if partition_by != "interval" or DATE_PLACEHOLDER not in path or not is_longer_than_a_day(window, tz):
        return
    local = f"{window.start.astimezone(tz):%Y-%m-%d %H:%M} to {window.end.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
    raise LongPortConfigError(
        f"output_path names its file by {DATE_PLACEHOLDER}, one local day, but the window {window} ({local}) is "
        "longer than a day, so one date= folder would hold several days' records and a reader would take them "
        f"for that one day. Add partition_by='day' (one file per day of partition_timezone={tz.key!r}, still one "
        f"run), or take {DATE_PLACEHOLDER} out of output_path and name the file by the window, e.g. "
        "cashflow/{{ data_interval_start | ds }}_{{ data_interval_end | ds }}.jsonl"
    )


def is_longer_than_a_day(window: Window, tz: ZoneInfo) -> bool:
    """Longer than 24 hours, and than a day on ``tz``'s wall clock."""
    wall = window.end.astimezone(tz).replace(tzinfo=None) - window.start.astimezone(tz).replace(tzinfo=None)
    return window.end - window.start > _DAY and wall > _DAY


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
    :param timezone: the zone whose days partition the output (``partition_timezone``).
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
    timezone: ZoneInfo = _UTC
    compare: bool = False
    fields: tuple[Field, ...] = FIELDS

    def __post_init__(self) -> None:
        check_day_path(self.partition_by, self.path)

    def url_for(self, part: Window) -> str:
        return self.path.replace(DATE_PLACEHOLDER, local_date(part.start, self.timezone).isoformat())

    def parts(self, window: Window) -> list[Window]:
        return list(window.days(self.timezone)) if self.partition_by == "day" else [window]

    def check_partitions(self, window: Window) -> None:
        """Refuse a window whose files another run would overwrite with its own records.

        Refusing, not merging: a file is replaced whole by the one run that owns it, so no format has to be read
        back and merged, and the file a run writes holds exactly that run's view.
        """
        tz = self.timezone
        local = f"{window.start.astimezone(tz):%Y-%m-%d %H:%M} to {window.end.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
        if self.partition_by == "day" and not window.is_whole_days(tz):
            raise LongPortConfigError(
                f"partition_by='day' writes one file per day of partition_timezone={tz.key!r}, but the window "
                f"{window} ({local}) does not start and end at midnight there: its first or last file would hold only "
                "part of a day, and the neighbouring run would overwrite it with its own part. Set partition_timezone "
                "to the time zone of the schedule (e.g. 'Asia/Hong_Kong' for a DAG scheduled at Hong Kong midnight), "
                f"or schedule the DAG at midnight {tz.key}"
            )
        if (
            self.partition_by == "interval"
            and DATE_PLACEHOLDER in self.path
            and local_date(window.start, tz) == local_date(window.end, tz)
        ):
            raise LongPortConfigError(
                f"output_path names a run's file by {DATE_PLACEHOLDER}, the date its window starts on in "
                f"partition_timezone={tz.key!r}, but the window {window} ({local}) ends on that same date, so "
                "the next run would write a file of the same name over this one. Use partition_by='day', a schedule "
                "of at least one day, or an output_path without {date} that is unique per run"
            )

        check_date_window(self.path, self.partition_by, window, tz)

    def check(self, window: Window) -> None:
        """Everything that can fail before the first API call: scheme, filesystem, folder, pyarrow."""
        if self.file_format == "parquet":
            from airflow_provider_cashflow.output.formats import require_pyarrow

            require_pyarrow()
        self.check_partitions(window)
        parts = self.parts(window)
        for part in dict.fromkeys((parts[0], parts[-1])):  # the first and the last, once each
            with _no_new_folders(open_target(self.url_for(part), self.conn_id), keep=False):
                pass  # proven creatable and writable; a run that fails later leaves no empty date= folder


@dataclass(frozen=True)
class Written:
    """What :func:`write_window` wrote: the files, oldest first, and with ``compare`` what each day's rewrite
    changed (oldest first), else ``None``."""

    files: tuple[FileEntry, ...]
    records: int
    bytes: int
    rewritten: tuple[DayChange, ...] | None


def write_window(records: Iterable[CashFlow], window: Window, spec: OutputSpec) -> Written:
    """Stream ``records`` (newest first) into one file per part."""
    return write_parts(split(window, records, spec.partition_by, spec.timezone), spec)


def write_parts(parts: Iterable[tuple[Window, Iterable[Record]]], spec: OutputSpec) -> Written:
    """Write each ``(part, records of part)``, newest part first, to the part's file. The caller decides which part
    a record is in: a US account's is the day whose own read returned it."""
    files: list[FileEntry | _Empty] = []
    rewritten: list[DayChange] = []
    for part, part_records in parts:
        target = open_target(spec.url_for(part), spec.conn_id)
        if spec.compare:
            change = _Change(spec, part, target)
            files.append(_write_part(part, change.counting(part_records), spec, target))
            rewritten.append(change.summary())
        else:
            files.append(_write_part(part, part_records, spec, target))
    files.reverse()  # oldest first reads naturally
    return Written(
        files=tuple(entry for entry in files if isinstance(entry, FileEntry)),
        records=sum(entry.records for entry in files),
        bytes=sum(entry.bytes for entry in files),
        rewritten=tuple(reversed(rewritten)) if spec.compare else None,
    )


@dataclass(frozen=True)
class _Empty:
    """A part without records and without a file (``write_empty=False``)."""

    records: int = 0
    bytes: int = 0


class _Change:
    """What rewriting one part's file changed: the records it gained and lost, compared as multisets (identical
    records are legitimate, so two equal fees are two records)."""

    def __init__(self, spec: OutputSpec, part: Window, target: Any):
        self.date = local_date(part.start, spec.timezone).isoformat()
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

    def summary(self) -> DayChange:
        return DayChange(
            date=self.date,
            replaced=self.replaced,
            records=sum(self.after.values()),
            gained=sum((self.after - self.before).values()),
            lost=sum((self.before - self.after).values()),
        )


def _write_part(part: Window, records: Iterable[Record], spec: OutputSpec, target: Any) -> FileEntry | _Empty:
    first = next(iter_ := iter(records), None)
    if first is None and not spec.write_empty:
        if target.exists():
            target.unlink()
            log.info("no records in %s: removed %s left by an earlier run", part, target)
        return _Empty()
    with _no_new_folders(target, keep=True), atomic_write(target) as raw:
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
    return FileEntry(
        path=str(target),
        start=part.start.isoformat(),
        end=part.end.isoformat(),
        records=writer.records,
        bytes=stream.bytes,
    )


@contextmanager
def _no_new_folders(target: Any, *, keep: bool) -> Iterator[None]:
    """:func:`prepare_target` for ``target``, then the block; the folders it created are removed again if the block
    fails, and also when it succeeds unless ``keep``. On a local disk: an object store has no folders of its own.

    A folder is removed only while empty, deepest first: another run's file in it keeps it.
    """
    created: list[str] = []
    if "file" in _protocols(target):
        folder = target.parent
        while not folder.exists() and folder.parent != folder:
            created.append(folder.path)
            folder = folder.parent
    prepare_target(target)
    try:
        yield
    except BaseException:
        _remove_empty(created)
        raise
    if not keep:
        _remove_empty(created)


def _remove_empty(folders: list[str]) -> None:
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:  # not empty (another run wrote there meanwhile) or gone: leave it, and its parents
            return


def _protocols(target: Any) -> tuple[str, ...]:
    protocol = getattr(target.fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
