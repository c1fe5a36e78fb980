"""Local days in a named zone (DST included), the lookback's widening, and the timetable's next tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_cashflow.compat import timetable_expression, timetable_timezone
from airflow_provider_cashflow.domain.calendar import day_start, next_cron_time, parse_lookback, resolve_timezone, widen
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

NY = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")  # skips midnight itself when its summer time begins


def test_a_day_that_skips_its_midnight_starts_at_the_transition() -> None:
    noon = datetime(2026, 9, 6, 12, tzinfo=SANTIAGO)
    start = day_start(noon, SANTIAGO)
    assert start.astimezone(SANTIAGO).hour == 1 and start == datetime(2026, 9, 6, 4, tzinfo=UTC)
    (part,) = Window.of(start, day_start(noon + timedelta(days=1), SANTIAGO)).days(SANTIAGO)
    assert part.end - part.start == timedelta(hours=23)


def test_lookback_counts_calendar_days_across_dst_and_floors_to_a_midnight() -> None:
    start = datetime(2026, 11, 3, tzinfo=NY).astimezone(UTC)  # after New York's 25-hour Sunday
    assert widen(start, timedelta(days=3), NY) == datetime(2026, 10, 31, tzinfo=NY).astimezone(UTC)
    assert widen(start, timedelta(hours=36), NY) == datetime(2026, 11, 1, tzinfo=NY).astimezone(UTC)
    assert widen(start, timedelta(days=3), NY) - start == -timedelta(hours=73)


@pytest.mark.parametrize("given,days", [(None, None), (0, None), (3, 3), ("3", 3), (timedelta(days=2), 2)])
def test_lookback_values(given: object, days: int | None) -> None:
    assert parse_lookback(given) == (None if days is None else timedelta(days=days))


@pytest.mark.parametrize("given", [-1, "three", 1.5, True, timedelta(days=-1)])
def test_bad_lookback_says_what_it_takes(given: object) -> None:
    with pytest.raises(LongPortConfigError, match="lookback must"):
        parse_lookback(given)


def test_time_zone_names_are_checked() -> None:
    assert resolve_timezone(" Asia/Hong_Kong ").key == "Asia/Hong_Kong"
    with pytest.raises(LongPortConfigError, match=r"partition_timezone='HKT' is not an IANA time zone name"):
        resolve_timezone("HKT")


def test_the_next_tick_of_a_partition_timetable_keeps_local_midnight_across_dst() -> None:
    from airflow.sdk import CronPartitionTimetable

    timetable = CronPartitionTimetable("0 0 * * *", timezone="America/New_York")
    assert timetable_timezone(timetable) == "America/New_York"
    sunday = datetime(2026, 11, 1, tzinfo=NY).astimezone(UTC)
    expression = timetable_expression(timetable)
    assert next_cron_time(expression, sunday, NY) == datetime(2026, 11, 2, tzinfo=NY).astimezone(UTC)
    assert next_cron_time(expression, sunday, NY) - sunday == timedelta(hours=25)
    assert timetable_expression(object()) is None
