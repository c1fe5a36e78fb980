"""What one run wrote, typed: the files, the days a lookback rewrote, and the query that read them.

Built once, from the run's plan and the writer's result; its :meth:`Manifest.to_dict` is the task's XCom and the
source of the asset events' extra, so both describe the same run in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.output.tables import TableCommit

__all__ = ["DayChange", "FileEntry", "Manifest", "query_summary"]


@dataclass(frozen=True)
class FileEntry:
    """One file written: its URL, the part ``[start, end)`` it holds (ISO 8601, UTC), records and bytes."""

    path: str
    start: str
    end: str
    records: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "start": self.start, "end": self.end, "records": self.records, "bytes": self.bytes}


@dataclass(frozen=True)
class DayChange:
    """What rewriting one day's file changed (lookback): the records it gained and lost against the old file."""

    date: str
    replaced: bool
    records: int
    gained: int
    lost: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "replaced": self.replaced,
            "records": self.records,
            "gained": self.gained,
            "lost": self.lost,
        }


def query_summary(query: CashFlowQuery | UsHistoryQuery) -> dict[str, Any]:
    """The query as plain JSON: a downstream task can tell a filtered file (``symbol``, ``business_type``; a US
    account's ``types``, ``currency``) from a whole one."""
    if isinstance(query, UsHistoryQuery):
        return {
            "start": query.window.start.isoformat(),
            "end": query.window.end.isoformat(),
            "types": list(query.types),
            "currency": query.currency,
            "page_size": query.page_size,
        }
    business_type = query.business_type
    return {
        "start": query.window.start.isoformat(),
        "end": query.window.end.isoformat(),
        "symbol": query.symbol,
        "business_type": None if business_type is None else int(business_type),
        "page_size": query.page_size,
    }


@dataclass(frozen=True)
class Manifest:
    """The manifest of a run that wrote to object storage.

    :param query: what was asked of the API; its window is the run's window, widened by any lookback.
    :param files: the files written, oldest first (parts without records and ``write_empty=False`` are absent).
    :param records: records written, all parts.
    :param bytes: bytes written, all files.
    :param rewritten: with a lookback, one entry per day rewritten, oldest first; else ``None``.
    :param api_calls: the calls the run made.
    :param complete: whether the window had ended when the run began.
    :param table: a table run's one commit (``table=``): the table, and its snapshot or version; else ``None``.
    """

    query: CashFlowQuery | UsHistoryQuery
    file_format: str
    compression: str
    partition_by: str
    partition_timezone: ZoneInfo
    files: tuple[FileEntry, ...]
    records: int
    bytes: int
    rewritten: tuple[DayChange, ...] | None
    api_calls: int
    complete: bool
    table: TableCommit | None = None

    def summary(self) -> str:
        """The manifest in one short line, for the task log: files (the first and the last), records, calls."""
        names = [entry.path for entry in self.files]
        if len(names) > 2:
            names = [names[0], "...", names[-1]]
        where = f"table {self.table.location}" if self.table is not None else ", ".join(names) or "no file"
        incomplete = "" if self.complete else "; incomplete: the window had not ended"
        return (
            f"manifest: {_count(len(self.files), 'file')}, {_count(self.records, 'record')}, {self.bytes} bytes, "
            f"{_count(self.api_calls, 'API call')} for {self.query.window}: {where}{incomplete}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the task returns (keys of earlier versions kept; ``query`` added)."""
        window = self.query.window
        data: dict[str, Any] = {
            "interval": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "format": self.file_format,
            "compression": self.compression,
            "partition_by": self.partition_by,
            "partition_timezone": self.partition_timezone.key,
            "records": self.records,
            "bytes": self.bytes,
            "files": [entry.to_dict() for entry in self.files],
        }
        if self.rewritten is not None:
            data["rewritten"] = [change.to_dict() for change in self.rewritten]
        data["api_calls"] = self.api_calls
        data["complete"] = self.complete
        data["query"] = query_summary(self.query)
        data["dc_region"] = "us" if isinstance(self.query, UsHistoryQuery) else "ap"
        if self.table is not None:
            data["table"] = self.table.to_dict()
        return data


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
