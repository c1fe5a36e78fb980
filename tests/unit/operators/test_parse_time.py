"""What building the operator (parsing the DAG file) checks: a literal mistake fails at once; what only the run
can know (the account's region, a template's value) is left to the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable

from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.operators.cashflow import CashflowOperator
from airflow_provider_cashflow.operators.plan import is_deferred


def test_a_page_size_above_the_ap_maximum_builds_a_us_account_may_take_it() -> None:
    task = CashflowOperator(task_id="us", longport_conn_id="longport_us", page_size=20000)
    assert task.page_size == 20000
    with pytest.raises(LongPortConfigError, match=r"page_size must be a whole number of 1 or more"):
        CashflowOperator(task_id="zero", page_size=0)


def test_a_list_of_plain_values_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(LongPortConfigError, match="is not a US transaction type"):
        CashflowOperator(task_id="typo", longport_conn_id="longport_us", types=["TT_DEPOSITS"])
    CashflowOperator(task_id="ok", longport_conn_id="longport_us", types=["TT_DEPOSIT_AND_WITHDRAWAL"])
    CashflowOperator(task_id="templated", longport_conn_id="longport_us", types=["{{ params.kind }}"])


@pytest.mark.parametrize(
    ("value", "deferred"),
    [(["A", "B"], False), (("A",), False), ([], False), (["{{ x }}"], True), ([1, "{% if %}"], True)],
)
def test_is_deferred_looks_inside_lists(value: object, deferred: bool) -> None:
    assert is_deferred(value) is deferred


WEEK = "file:///tmp/parse-time/date={date}/cashflow.jsonl"


@pytest.mark.parametrize(
    "schedule",
    [
        CronDataIntervalTimetable("0 0 * * 1", timezone="Asia/Hong_Kong"),  # weekly
        CronDataIntervalTimetable("0 0 * * 1-5", timezone="UTC"),  # daily, but Friday's run holds the weekend
        CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),  # monthly
        DeltaDataIntervalTimetable(timedelta(days=2)),
    ],
    ids=["weekly", "weekdays", "monthly", "two-days"],
)
def test_a_date_path_of_a_schedule_longer_than_a_day_is_refused_when_parsed(schedule: object) -> None:
    with pytest.raises(LongPortConfigError, match=r"longer than a day.*Add partition_by='day'"):
        _dag(schedule, output_path=WEEK)
    _dag(schedule, output_path=WEEK, partition_by="day")  # one file per day: what {date} means
    _dag(schedule, output_path="file:///tmp/parse-time/{{ ds }}_{{ data_interval_end | ds }}.jsonl")


@pytest.mark.parametrize(
    "schedule",
    [
        CronDataIntervalTimetable("0 0 * * *", timezone="America/New_York"),  # its 25-hour day is one day
        CronDataIntervalTimetable("0 5 * * *", timezone="UTC"),  # 24 hours, across two New York dates
        CronDataIntervalTimetable("0 12 * * *", timezone="Asia/Hong_Kong"),
    ],
    ids=["new-york-midnight", "utc-morning", "hong-kong-noon"],
)
def test_a_date_path_of_a_daily_schedule_is_taken(schedule: object) -> None:
    _dag(schedule, output_path=WEEK, partition_timezone="America/New_York")


def test_a_literal_window_longer_than_a_day_is_refused_when_parsed_a_templated_one_when_run() -> None:
    week = {"window_start": datetime(2026, 11, 1, tzinfo=UTC), "window_end": datetime(2026, 11, 8, tzinfo=UTC)}
    with pytest.raises(LongPortConfigError, match="longer than a day"):
        CashflowOperator(task_id="week", output_path=WEEK, **week)
    CashflowOperator(task_id="days", output_path=WEEK, partition_by="day", **week)
    CashflowOperator(
        task_id="templated", output_path=WEEK, window_start="{{ params.start }}", window_end="{{ params.end }}"
    )


def _dag(schedule: object, **arguments: object) -> None:
    with DAG("parse_time", schedule=schedule):
        CashflowOperator(task_id="extract", **arguments)  # type: ignore[arg-type]
