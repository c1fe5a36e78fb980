"""Daily extraction of LongPort cash flows to object storage, one file per UTC day.

Each run covers its data interval ``[day, day + 1)``. The output folder comes from the environment variable
``LONGPORT_CASHFLOW_OUTPUT`` (any ObjectStoragePath URL: ``file:///...``, ``s3://bucket/prefix``) and its
connection from ``LONGPORT_CASHFLOW_OUTPUT_CONN`` (e.g. ``aws_default``). Create the pool once, sized to
the API's budget: ``airflow pools set longport_api 4 "LongPort cash-flow API"``.
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
    dag_id="example_cashflow_daily",
    # Not "@daily": in Airflow 3 that is a trigger timetable with a zero-length data interval.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "pool": "longport_api"},
    tags=["longport", "example"],
    doc_md=__doc__,
):
    CashflowOperator(
        task_id="extract_cash_flows",
        longport_conn_id="longport_default",
        output_path=f"{OUTPUT}/date={{date}}/cashflow.jsonl",
        output_conn_id=os.environ.get("LONGPORT_CASHFLOW_OUTPUT_CONN") or None,
        file_format="jsonl",
        # Tunable without a code change: `airflow variables set longport_cashflow_page_size 500`.
        page_size="{{ var.value.get('longport_cashflow_page_size', 10000) }}",
    )
