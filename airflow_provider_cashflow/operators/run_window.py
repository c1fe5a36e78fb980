"""Which window a run extracts, and in which time zone its day files are cut: from the explicit parameters, the
data interval, or a partitioned run's ``partition_date`` (Airflow >= 3.2); and which timetables give no window.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.compat import timetable_expression, timetable_timezone
from airflow_provider_cashflow.domain.calendar import cron_times, next_cron_time, resolve_timezone
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = [
    "NO_INTERVAL",
    "check_both",
    "check_timetable",
    "explicit_window",
    "partition_timezone",
    "resolve_window",
    "timetable_windows",
]

NO_INTERVAL = (
    "this run has no data interval (it was triggered by an asset or manually without a logical date), so there "
    "is no window to extract; trigger it with a logical date, schedule the DAG with "
    "CronDataIntervalTimetable('0 0 * * *', timezone='UTC') or CronPartitionTimetable, or pass window_start and "
    "window_end"
)
_EMPTY_INTERVALS = (
    "gives each run an empty data interval (start == end; in Airflow 3 schedule='@daily' is such a trigger "
    "timetable), so there is no window to extract; schedule the DAG with CronDataIntervalTimetable('0 0 * * *', "
    "timezone='UTC') so each run has a one-day data interval, or pass window_start and window_end"
)


def resolve_window(context: Any, window_start: Any = None, window_end: Any = None, timetable: Any = None) -> Window:
    """The explicit window if given, else the run's data interval, else its partition's period; errors say what
    to do.

    :param timetable: the DAG's timetable: a partitioned run's period ends at its next cron time.
    """
    if window_start is not None or window_end is not None:
        return explicit_window(window_start, window_end)
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return Window.of(start, end)
    partition_date = context.get("partition_date")
    if partition_date is not None:
        return _partition_period(partition_date, timetable)
    raise LongPortConfigError(NO_INTERVAL)


def explicit_window(window_start: Any, window_end: Any) -> Window:
    check_both(window_start, window_end)
    return Window.of(_as_datetime(window_start, "window_start"), _as_datetime(window_end, "window_end"))


def check_both(window_start: Any, window_end: Any) -> None:
    if (window_start is None) != (window_end is None):
        raise LongPortConfigError("pass both window_start and window_end, or neither to use the data interval")


def _as_datetime(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        import pendulum

        try:
            parsed = pendulum.parse(value.strip(), exact=True, tz=None)
        except Exception:
            raise LongPortConfigError(f"{name}={value!r} is not an ISO 8601 date-time") from None
        if isinstance(parsed, datetime):
            return parsed
    raise LongPortConfigError(f"{name} must be an aware datetime or ISO 8601 text with an offset, got {value!r}")


def _partition_period(partition_date: datetime, timetable: Any) -> Window:
    zone = timetable_timezone(timetable)
    tz = resolve_timezone(zone if zone is not None else "UTC", "the timetable's timezone")
    expression = timetable_expression(timetable)
    if expression is None:
        raise LongPortConfigError(
            f"this run is for partition_date={partition_date.isoformat()}, but its timetable "
            f"({type(timetable).__name__}) has no cron expression to say when the partition ends; schedule the DAG "
            "with CronPartitionTimetable('0 0 * * *', timezone=...) or pass window_start and window_end"
        )
    return Window.of(partition_date, next_cron_time(expression, partition_date, tz))


def check_timetable(timetable: Any) -> None:
    """Refuse, at parse time, a timetable whose runs have no window: trigger timetables without an ``interval``
    (``schedule='@daily'`` in Airflow 3), ``@once`` and asset triggers. Only classes known to give none are
    refused (a partitioned timetable gives a period, a custom one may give anything); ``schedule=None`` is left to
    the run, whose context may carry a window."""
    kind = type(timetable).__name__
    if kind == "AssetTriggeredTimetable":
        raise LongPortConfigError(f"the DAG's timetable ({kind}): {NO_INTERVAL}")
    if kind == "OnceTimetable" or (
        kind in ("CronTriggerTimetable", "DeltaTriggerTimetable", "MultipleCronTriggerTimetable")
        and not any(_trigger_intervals(timetable))
    ):
        raise LongPortConfigError(f"the DAG's timetable ({_describe(timetable)}) {_EMPTY_INTERVALS}")


def _trigger_intervals(timetable: Any) -> list[Any]:
    """The ``interval`` of a trigger timetable, of each of a multiple one's (SDK: public, core: private)."""
    members = getattr(timetable, "timetables", None) or getattr(timetable, "_timetables", None) or [timetable]
    intervals = []
    for member in members:
        for name in ("interval", "_interval"):
            if hasattr(member, name):
                intervals.append(getattr(member, name))
                break
        else:
            intervals.append(True)  # unknown layout: assume it has one, and leave the check to the run
    return intervals


def _describe(timetable: Any) -> str:
    expression = timetable_expression(timetable)
    return f"{type(timetable).__name__}({expression!r})" if expression else type(timetable).__name__


def partition_timezone(explicit: Any, timetable: Any, default: str = "UTC") -> ZoneInfo:
    """The zone whose days partition the output: ``explicit``, else the timetable's, else ``default`` (UTC; a US
    account's is America/New_York)."""
    if explicit not in (None, ""):
        return resolve_timezone(explicit)
    zone = timetable_timezone(timetable)
    if zone is None:
        return ZoneInfo(default)
    return resolve_timezone(zone, "the timetable's timezone (pass partition_timezone to choose one)")


_REFERENCE = datetime(2026, 1, 1, tzinfo=UTC)  # any moment will do: a year of windows from it, DST changes included
_YEAR = timedelta(days=366)
_MOST = 400


def timetable_windows(timetable: Any) -> Iterator[Window]:
    """The windows the timetable gives its runs over a year, as far as it tells before any run: a cron data-interval
    or partitioned timetable's (from one tick to the next), a delta one's, a trigger one's ``interval``; none for
    any other (a custom timetable may give anything: its runs are checked as they start). Lazily, so a check can
    stop at the first window it refuses."""
    kind = type(timetable).__name__
    expression = timetable_expression(timetable)
    if expression is not None and kind in ("CronDataIntervalTimetable", "CronPartitionTimetable"):
        zone = timetable_timezone(timetable)
        tz = resolve_timezone(zone if zone is not None else "UTC", "the timetable's timezone")
        yield from _cron_windows(expression, tz.key)
    elif kind == "DeltaDataIntervalTimetable":
        delta = _attribute(timetable, "delta")
        if delta is not None:
            yield Window(_REFERENCE, _REFERENCE + delta)
    elif kind in ("CronTriggerTimetable", "DeltaTriggerTimetable"):
        interval = _attribute(timetable, "interval")
        if interval is not None and _REFERENCE - interval < _REFERENCE:
            yield Window(_REFERENCE - interval, _REFERENCE)


@lru_cache(maxsize=32)
def _cron_windows(expression: str, zone: str) -> tuple[Window, ...]:
    """A year of a cron schedule's windows, made once per schedule: the DAG's tasks share it (about 40 ms a year)."""
    ticks = cron_times(expression, _REFERENCE, ZoneInfo(zone))
    windows: list[Window] = []
    start = next(ticks)
    while len(windows) < _MOST and start < _REFERENCE + _YEAR:  # a daily schedule's year; an hourly one's 400 hours
        end = next(ticks)
        windows.append(Window(start, end))
        start = end
    return tuple(windows)


def _attribute(timetable: Any, name: str) -> Any:
    """The SDK's public attribute (3.2+) or the core timetable's private one (3.0, 3.1)."""
    value = getattr(timetable, name, None)
    return value if value is not None else getattr(timetable, f"_{name}", None)
