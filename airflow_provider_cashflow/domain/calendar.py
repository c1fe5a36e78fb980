"""The account's calendar: local days in a named time zone (DST included), the lookback that widens a window, and
the next tick of a cron schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["cron_times", "day_start", "local_date", "next_cron_time", "parse_lookback", "resolve_timezone", "widen"]


def resolve_timezone(name: Any, setting: str = "partition_timezone") -> ZoneInfo:
    """The IANA zone called ``name`` (a pendulum or zoneinfo zone is taken by its name)."""
    key = getattr(name, "key", None) or getattr(name, "name", None) or name
    if not isinstance(key, str) or not key.strip():
        raise LongPortConfigError(f"{setting} must be an IANA time zone name such as 'Asia/Hong_Kong', got {name!r}")
    try:
        return ZoneInfo(key.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise LongPortConfigError(
            f"{setting}={key!r} is not an IANA time zone name; use e.g. 'UTC', 'Asia/Hong_Kong', 'America/New_York'"
        ) from None


def local_date(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def day_start(moment: datetime, tz: tzinfo) -> datetime:
    """The UTC instant at which the local day containing ``moment`` begins.

    Built from the wall clock, so a 23- or 25-hour day (a DST change) starts at its real midnight; where a
    zone skips midnight itself, ``fold=0`` puts the start on the transition instant.
    """
    return datetime.combine(local_date(moment, tz), time(), tzinfo=tz).astimezone(UTC)


def is_day_boundary(moment: datetime, tz: tzinfo) -> bool:
    return day_start(moment, tz) == moment


def parse_lookback(value: Any) -> timedelta | None:
    """``None``, a ``timedelta``, or a whole number of days (an int or its text, as a template renders it)."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise LongPortConfigError(f"lookback must not be negative, got {value}")
        return value or None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(days=value) if value else None
    raise LongPortConfigError(f"lookback must be a timedelta or a whole number of days >= 0, got {value!r}")


def widen(start: datetime, lookback: timedelta, tz: tzinfo) -> datetime:
    """``start - lookback`` on the local wall clock, floored to that local day's start.

    Wall-clock arithmetic keeps "3 days" three calendar days across a DST change; the floor makes the first
    re-read day a whole day, so its file is rewritten with all of its records.
    """
    local = start.astimezone(tz)
    earlier = (local.replace(tzinfo=None) - lookback).replace(tzinfo=tz)
    return day_start(earlier.astimezone(UTC), tz)


def next_cron_time(expression: str, after: datetime, tz: tzinfo) -> datetime:
    """The first time of the cron ``expression`` strictly after ``after``, read on ``tz``'s wall clock, in UTC.

    Wall-clock arithmetic, as core Airflow's cron timetables do it, keeps DST days whole: a partitioned run's
    period (``CronPartitionTimetable``, Airflow >= 3.2) ends at its timetable's next tick.
    """
    return next(cron_times(expression, after, tz))


def cron_times(expression: str, after: datetime, tz: tzinfo) -> Iterator[datetime]:
    """The times of the cron ``expression`` after ``after``, in order, as :func:`next_cron_time` gives each."""
    from croniter import croniter  # type: ignore[import-untyped]

    ticks = croniter(expression, start_time=after.astimezone(tz).replace(tzinfo=None))
    while True:
        following: datetime = ticks.get_next(datetime)
        yield following.replace(tzinfo=tz).astimezone(UTC)
