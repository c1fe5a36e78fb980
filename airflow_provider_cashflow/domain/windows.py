"""Half-open time windows ``[start, end)`` in UTC, and their split into local days."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from airflow_provider_cashflow.domain.calendar import day_start, is_day_boundary
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["Window", "utc_day"]


def _aware_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise LongPortConfigError(f"{name} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise LongPortConfigError(
            f"{name}={value.isoformat()} is a naive datetime; pass a timezone-aware one "
            f"(e.g. datetime(..., tzinfo=timezone.utc) or pendulum.datetime(...)) so the window is unambiguous"
        )
    return value.astimezone(UTC)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass(frozen=True)
class Window:
    """A half-open UTC window: a record belongs to it when ``start <= business_time < end``."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Window:
        """Validate and normalise to UTC; naive, reversed and empty windows are errors that say why."""
        start_utc = _aware_utc(start, "start")
        end_utc = _aware_utc(end, "end")
        if end_utc < start_utc:
            raise LongPortConfigError(
                f"the window is reversed: start {start_utc.isoformat()} is after end {end_utc.isoformat()}"
            )
        if end_utc == start_utc:
            raise LongPortConfigError(
                f"the window [{start_utc.isoformat()}, {end_utc.isoformat()}) is empty (start == end); "
                "for a DAG with schedule='@daily' in Airflow 3 use CronDataIntervalTimetable('0 0 * * *', "
                "timezone='UTC') so each run has a one-day data interval"
            )
        return cls(start_utc, end_utc)

    def request_bounds(self) -> tuple[int, int]:
        """``start_time`` / ``end_time`` in whole seconds covering the window.

        The server's end bound may be inclusive or not (undocumented), so ask for a superset and let
        :meth:`contains` cut the half-open window on this side.
        """
        return math.floor(self.start.timestamp()), math.ceil(self.end.timestamp())

    def seconds(self) -> tuple[int, int]:
        """The first and the last whole second (both inclusive) that hold a moment of the window: a superset of
        it, for an endpoint whose records the caller cuts to the window afterwards (the AP one).

        Not :meth:`seconds_starting_in`, whose first second is the first that *begins* in the window."""
        start_time, end_time = self.request_bounds()
        return start_time, end_time - 1

    def seconds_starting_in(self) -> tuple[int, int]:
        """The first and the last whole second (both inclusive) that begin in the window: a record of second ``t``
        is in ``[start, end)`` exactly when ``ceil(start) <= t <= ceil(end) - 1``. For an endpoint whose records
        cannot be cut afterwards (the US one, which does not say which time it filters on). ``first > last``
        when no whole second begins in the window."""
        return math.ceil(self.start.timestamp()), math.ceil(self.end.timestamp()) - 1

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def days(self, tz: tzinfo = UTC) -> Iterator[Window]:
        """The window cut at the local midnights of ``tz`` (DST included), newest first (the API's order)."""
        day_end = self.end
        while day_end > self.start:
            start = max(day_start(day_end - timedelta(microseconds=1), tz), self.start)
            yield Window(start, day_end)
            day_end = start

    def is_whole_days(self, tz: tzinfo) -> bool:
        """True when both ends fall on local midnights of ``tz``, so every day part is a whole local day."""
        return is_day_boundary(self.start, tz) and is_day_boundary(self.end, tz)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"
