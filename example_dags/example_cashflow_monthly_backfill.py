"""Backfilling years of history quickly: monthly runs that still write one file per UTC day.

Each run covers a calendar month and asks the API for it in as few calls as the data allows (10,000 records
per call), then splits the stream by day into exactly the files ``example_cashflow_daily`` writes. Backfill
with::

    airflow backfill create --dag-id example_cashflow_monthly_backfill \\
        --from-date 2024-01-01 --to-date 2026-01-01 --max-active-runs 2
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG

# Airflow 3.0 and 3.1 have it only here, and every later minor still takes it; from 3.2 on, airflow.sdk has it too.
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

OUTPUT = os.environ.get("LONGPORT_CASHFLOW_OUTPUT", "file:///tmp/longport_cashflow").rstrip("/")

with DAG(
    dag_id="example_cashflow_monthly_backfill",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    start_date=datetime(2020, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=2,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2), "pool": "longport_api"},
    tags=["longport", "example", "backfill"],
    doc_md=__doc__,
):
    CashflowOperator(
        task_id="extract_month_by_day",
        output_path=f"{OUTPUT}/date={{date}}/cashflow.jsonl",
        output_conn_id=os.environ.get("LONGPORT_CASHFLOW_OUTPUT_CONN") or None,
        partition_by="day",
    )
