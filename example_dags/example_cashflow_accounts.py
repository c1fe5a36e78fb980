"""Several LongPort accounts in one DAG: one mapped task per account, each into its own folder and asset.

Each account is an Airflow connection of type ``longport``; list their ids in the environment variable
``LONGPORT_CASHFLOW_ACCOUNTS`` (comma-separated, e.g. ``longport_fund_a,longport_fund_b``). LongPort counts
its rate limit per account, and so does the provider: every account spends its own budget (keyed by app key),
shared by every worker on every machine when the connections set ``rate_limit_storage``
(e.g. ``redis://redis-host:6379/0``). One account that fails (an expired token) fails only its own mapped task;
the error names its connection, and the other accounts still land.

Downstream DAGs can be scheduled on the alias ``longport_cashflow:<output_path>``, or on one account's folder
asset, which the first run creates (e.g. ``file:///tmp/longport_cashflow/accounts/longport_fund_a``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG

# Airflow 3.0 and 3.1 have it only here, and every later minor still takes it; from 3.2 on, airflow.sdk has it too.
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

OUTPUT = os.environ.get("LONGPORT_CASHFLOW_OUTPUT", "file:///tmp/longport_cashflow").rstrip("/")
ACCOUNTS = [a.strip() for a in os.environ.get("LONGPORT_CASHFLOW_ACCOUNTS", "longport_default").split(",") if a.strip()]

with DAG(
    dag_id="example_cashflow_accounts",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=2,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "pool": "longport_api"},
    tags=["longport", "example"],
    doc_md=__doc__,
):
    # {conn_id} becomes each mapped instance's connection id: one folder, one asset event and one budget per
    # account. The task instances are listed under their connection ids. No page_size: each account pages at
    # its data centre's default (10000 on AP, 100 on US, whose endpoint refuses sizes the AP one takes).
    CashflowOperator.partial(
        task_id="extract_cash_flows",
        output_path=f"{OUTPUT}/accounts/{{conn_id}}/date={{date}}/cashflow.jsonl",
        output_conn_id=os.environ.get("LONGPORT_CASHFLOW_OUTPUT_CONN") or None,
    ).expand(longport_conn_id=ACCOUNTS)
