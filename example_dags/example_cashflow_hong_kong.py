"""A Hong Kong account: one file per Hong Kong business day, corrected for three days after it ends.

Runs at Hong Kong midnight, so each run's data interval is one Hong Kong day. ``partition_by="day"`` cuts the files
at Hong Kong midnights (``partition_timezone``, here the schedule's own zone) and names them by the Hong Kong date,
so no file is shared by two runs. Brokers post some cash flows late and replace provisional dividends
(``在途分红``) with the paid ones: ``lookback=3`` makes every run re-read the three days before its own and rewrite
their files, so each day's file converges to the broker's latest view; the manifest (XCom) and the asset event say
which days were rewritten and how many records each gained and lost. ``max_active_runs=1`` keeps the rewrites of a
day in the order of the runs.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from airflow.sdk import DAG

# Airflow 3.0 and 3.1 have it only here, and every later minor still takes it; from 3.2 on, airflow.sdk has it too.
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

OUTPUT = os.environ.get("LONGPORT_CASHFLOW_OUTPUT", "file:///tmp/longport_cashflow").rstrip("/")

with DAG(
    dag_id="example_cashflow_hong_kong",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong"),
    start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Hong_Kong")),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "pool": "longport_api"},
    tags=["longport", "example", "hong kong"],
    doc_md=__doc__,
):
    CashflowOperator(
        task_id="extract_hong_kong_days",
        output_path=f"{OUTPUT}/hong_kong/date={{date}}/cashflow.jsonl",
        output_conn_id=os.environ.get("LONGPORT_CASHFLOW_OUTPUT_CONN") or None,
        partition_by="day",
        partition_timezone="Asia/Hong_Kong",
        lookback=3,
    )
