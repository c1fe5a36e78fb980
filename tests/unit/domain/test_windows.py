"""Half-open UTC windows: validation, normalisation and the split into days."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

UTC = UTC


def test_naive_datetimes_are_refused_with_advice() -> None:
    with pytest.raises(LongPortConfigError, match=r"naive datetime.*timezone-aware"):
        Window.of(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))


def test_reversed_and_empty_windows_say_why() -> None:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(LongPortConfigError, match="reversed"):
        Window.of(start, start - timedelta(days=1))
    with pytest.raises(LongPortConfigError, match="CronDataIntervalTimetable"):
        Window.of(start, start)


def test_window_is_normalised_to_utc_and_half_open() -> None:
    hk = timezone(timedelta(hours=8))
    w = Window.of(datetime(2026, 1, 2, 8, tzinfo=hk), datetime(2026, 1, 3, 8, tzinfo=hk))
    assert w.start == datetime(2026, 1, 2, tzinfo=UTC) and w.start.tzinfo is UTC
    assert w.contains(w.start) and not w.contains(w.end)
    assert w.request_bounds() == (int(w.start.timestamp()), int(w.end.timestamp()))


@given(
    start=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
)
def test_days_tile_the_window_exactly(start: datetime, length: timedelta) -> None:
    window = Window.of(start, start + length)
    days = list(window.days())
    assert days[0].end == window.end and days[-1].start == window.start
    for newer, older in itertools.pairwise(days):
        assert older.end == newer.start  # no gap, no overlap
    for day in days:
        assert day.start.date() == (day.end - timedelta(microseconds=1)).date()
        assert day.start.time() == datetime.min.time() or day.start == window.start
