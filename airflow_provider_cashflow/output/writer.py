"""Writes one window of cash flows to object storage, a file per partition, and describes what it wrote."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from airflow_provider_cashflow.domain.models import CashFlow
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.output.formats import open_writer
from airflow_provider_cashflow.output.partitions import split
from airflow_provider_cashflow.output.storage import atomic_write, open_target, prepare_target

__all__ = ["OutputSpec", "write_window"]

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

    :param path: URL template; ``{date}`` becomes the partition's UTC date (YYYY-MM-DD).
    :param conn_id: the storage connection (``None``: the scheme's default).
    :param file_format: ``jsonl``, ``csv`` or ``parquet``.
    :param compression: resolved compression for the format.
    :param partition_by: ``interval`` (one file) or ``day`` (one file per UTC day).
    :param write_empty: write a valid empty file for a partition with no records; if False, no file, and
        one left by an earlier run at that path is removed so the output matches the data.
    """

    path: str
    conn_id: str | None
    file_format: str
    compression: str
    partition_by: str = "interval"
    write_empty: bool = True
    row_group_size: int = 50_000
    targets: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.partition_by == "day" and DATE_PLACEHOLDER not in self.path:
            raise LongPortConfigError(
                f"partition_by='day' writes one file per day, so output_path needs a {DATE_PLACEHOLDER} placeholder, "
                f"e.g. s3://bucket/cashflow/date={DATE_PLACEHOLDER}/cashflow.jsonl; got {self.path!r}"
            )

    def url_for(self, part: Window) -> str:
        return self.path.replace(DATE_PLACEHOLDER, part.start.date().isoformat())

    def target_for(self, part: Window) -> Any:
        url = self.url_for(part)
        if url not in self.targets:
            self.targets[url] = open_target(url, self.conn_id)
        return self.targets[url]

    def check(self, window: Window) -> None:
        """Everything that can fail before the first API call: scheme, filesystem, folder, pyarrow."""
        if self.file_format == "parquet":
            from airflow_provider_cashflow.output.formats import require_pyarrow

            require_pyarrow()
        parts = list(window.days()) if self.partition_by == "day" else [window]
        prepare_target(self.target_for(parts[0]))
        if len(parts) > 1:
            prepare_target(self.target_for(parts[-1]))


def write_window(records: Iterable[CashFlow], window: Window, spec: OutputSpec) -> dict[str, Any]:
    """Stream ``records`` (newest first) into one file per part; returns the manifest."""
    files = []
    for part, part_records in split(window, records, spec.partition_by):
        files.append(_write_part(part, part_records, spec))
    files.reverse()  # oldest first reads naturally
    return {
        "interval": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "format": spec.file_format,
        "compression": spec.compression,
        "partition_by": spec.partition_by,
        "records": sum(f["records"] for f in files),
        "bytes": sum(f["bytes"] for f in files),
        "files": [f for f in files if f["path"] is not None],
    }


def _write_part(part: Window, records: Iterable[CashFlow], spec: OutputSpec) -> dict[str, Any]:
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
        writer = open_writer(stream, spec.file_format, spec.compression, row_group_size=spec.row_group_size)  # type: ignore[arg-type]
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
