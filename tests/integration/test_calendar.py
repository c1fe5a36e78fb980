"""Day partitions in the account's time zone, partitioned runs, lookback: the operator without a metadata DB.

The same guarantees under real Airflow processes are in tests/e2e/test_e2e_calendar.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk import CronDataIntervalTimetable, CronPartitionTimetable
from airflow.sdk.exceptions import AirflowFailException
from conftest import DAY, END, truth
from operator_support import expected_rows, run_operator

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.sandbox import Sandbox

HK = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")


def _lake(root: Path) -> dict[str, list[dict]]:
    return {p.parent.name: [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted(root.rglob("*.jsonl"))}


def _local_midnight(year: int, month: int, day: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, day, tzinfo=tz).astimezone(timezone.utc)


def test_new_york_days_are_23_and_25_hours_long_across_dst() -> None:
    spring = Window.of(_local_midnight(2026, 3, 7, NY), _local_midnight(2026, 3, 10, NY))
    fall = Window.of(_local_midnight(2026, 10, 31, NY), _local_midnight(2026, 11, 3, NY))
    hours = lambda w: [(d.end - d.start) / timedelta(hours=1) for d in reversed(list(w.days(NY)))]
    assert hours(spring) == [24, 23, 24] and hours(fall) == [24, 25, 24]
    assert all(d.start.astimezone(NY).hour == 0 for d in fall.days(NY))


def test_hong_kong_schedule_with_day_partitions_keeps_every_record_once(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    first = _local_midnight(2026, 11, 12, HK)
    for i in (0, 1, 2, 1):  # three consecutive runs, then the middle one again
        manifest, _, _ = run_operator(first + i * DAY, first + (i + 1) * DAY, schedule=schedule,
                                      output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl", partition_by="day")
        assert manifest["partition_timezone"] == "Asia/Hong_Kong" and len(manifest["files"]) == 1
    files = _lake(tmp_path)
    assert sorted(files) == ["date=2026-11-12", "date=2026-11-13", "date=2026-11-14"]  # Hong Kong dates
    for i, day in enumerate(sorted(files)):
        want = expected_rows(truth(sandbox.dataset, first + i * DAY, first + (i + 1) * DAY))
        assert files[day] == want and want
    written = sum(len(rows) for rows in files.values())
    assert written == len(truth(sandbox.dataset, first, first + 3 * DAY))


def test_a_window_that_splits_a_day_is_refused_before_any_call(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    start = _local_midnight(2026, 11, 12, HK)
    with pytest.raises(AirflowFailException, match=r"partition_timezone='UTC'.*Asia/Hong_Kong"):
        run_operator(start, start + DAY, schedule=schedule, partition_timezone="UTC", partition_by="day",
                     output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl")
    hourly = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
    with pytest.raises(AirflowFailException, match=r"same date.*partition_by='day'"):
        run_operator(END - DAY, END - DAY + timedelta(hours=1), schedule=hourly,
                     output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl")
    with pytest.raises(AirflowFailException, match=r"partition_timezone='Mars/Olympus' is not an IANA"):
        run_operator(END - DAY, END, partition_timezone="Mars/Olympus", output_path=f"file://{tmp_path}/x.jsonl")
    assert sandbox.state.snapshot()["calls"] == 0
    assert not list(tmp_path.rglob("*.jsonl"))


def test_utc_partitions_of_a_hong_kong_schedule_are_accepted_as_whole_intervals(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    first = _local_midnight(2026, 11, 12, HK)
    for i in range(2):  # interval files named by the UTC date each run starts on: distinct, so nothing is lost
        run_operator(first + i * DAY, first + (i + 1) * DAY, schedule=schedule, partition_timezone="UTC",
                     output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl")
    files = _lake(tmp_path)
    assert sorted(files) == ["date=2026-11-11", "date=2026-11-12"]
    assert [r for day in sorted(files) for r in reversed(files[day])] == list(reversed(
        expected_rows(truth(sandbox.dataset, first, first + 2 * DAY))))


def test_partitioned_run_reads_its_partition_period(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronPartitionTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    partition_date = _local_midnight(2026, 11, 13, HK)
    manifest, context, _ = run_operator(
        None, None, schedule=schedule, partition_by="day",
        extra_context={"partition_date": partition_date, "partition_key": "2026-11-13T00:00:00"},
        output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl")
    assert manifest["interval"] == {"start": partition_date.isoformat(), "end": (partition_date + DAY).isoformat()}
    assert _lake(tmp_path) == {"date=2026-11-13": expected_rows(truth(sandbox.dataset, partition_date, partition_date + DAY))}
    (event,) = context["outlet_events"]._dict.values()
    assert event.extra["partition_key"] == "2026-11-13T00:00:00"


def test_lookback_needs_day_partitions_and_is_checked_before_any_call(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match=r"lookback=3 .*partition_by='day'"):
        run_operator(END - DAY, END, lookback=3, output_path=f"file://{tmp_path}/x.jsonl")
    with pytest.raises(AirflowFailException, match=r"lookback must be a timedelta or a whole number of days"):
        run_operator(END - DAY, END, lookback="three", partition_by="day", output_path=f"file://{tmp_path}/{{date}}.jsonl")
    assert sandbox.state.snapshot()["calls"] == 0
