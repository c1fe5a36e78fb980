"""Cutting a stream of records (newest first, as the API sends them) into consecutive time partitions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, tzinfo

from airflow_provider_cashflow.domain.models import CashFlow
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import OutOfOrderError

__all__ = ["PARTITIONINGS", "split"]

PARTITIONINGS = ("interval", "day")


def split(
    window: Window, records: Iterable[CashFlow], partition_by: str, tz: tzinfo = UTC
) -> Iterator[tuple[Window, Iterator[CashFlow]]]:
    """Yield ``(part, records of part)`` for every part of ``window``, newest first, empty parts included.

    Streams: each part's iterator must be consumed before the next part is taken, and only one record is
    held back between parts. With ``"interval"`` there is one part, the window itself; with ``"day"`` a part
    per local day of ``tz``.
    """
    if partition_by == "interval":
        yield window, iter(records)
        return
    parts = list(window.days(tz))
    source = iter(records)
    held: list[CashFlow] = []  # the first record of a later (older) part, read while ending the current one

    def records_of(index: int) -> Iterator[CashFlow]:
        part = parts[index]
        while True:
            record = held.pop() if held else next(source, None)
            if record is None:
                return
            moment = record.business_time
            if moment >= part.end:
                raise OutOfOrderError(
                    f"the API sent a record of {moment.isoformat()} after records older than {part.end.isoformat()}; "
                    "its newest-first order is what lets days be written one at a time; use partition_by='interval'"
                )
            if moment < part.start:
                held.append(record)
                return
            yield record

    for index, part in enumerate(parts):
        yield part, records_of(index)
    if held or next(source, None) is not None:
        raise OutOfOrderError("the API sent records outside the requested window")
