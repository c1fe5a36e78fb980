"""What differs between Airflow 3 minors, in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["timetable_expression", "timetable_next", "timetable_timezone"]


def timetable_timezone(timetable: Any) -> Any:
    """The time zone a DAG's timetable reads its schedule in, or ``None`` when it has none (delta, asset).

    Airflow >= 3.2 gives the task the SDK's timetable (public ``timezone``); 3.0 and 3.1 the core one
    (``_timezone``).
    """
    for name in ("timezone", "_timezone"):
        value = getattr(timetable, name, None)
        if value is not None:
            return value
    return None


def timetable_expression(timetable: Any) -> str | None:
    """The cron expression of a cron timetable (SDK ``expression``, core ``_expression``), else ``None``."""
    for name in ("expression", "_expression"):
        value = getattr(timetable, name, None)
        if isinstance(value, str):
            return value
    return None


def timetable_next(timetable: Any, after: datetime, tz: Any) -> datetime | None:
    """The timetable's first cron time strictly after ``after``, as core Airflow computes it, in UTC.

    Partitioned runs (``CronPartitionTimetable``, Airflow >= 3.2) carry only their ``partition_date``; the
    partition's period ends at the next tick. Wall-clock cron arithmetic in ``tz`` keeps DST days whole.
    """
    expression = timetable_expression(timetable)
    if expression is None:
        return None
    from croniter import croniter  # type: ignore[import-untyped]

    local = after.astimezone(tz).replace(tzinfo=None)
    following: datetime = croniter(expression, start_time=local).get_next(datetime)
    return following.replace(tzinfo=tz).astimezone(UTC)
