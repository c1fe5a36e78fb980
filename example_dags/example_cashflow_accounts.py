"""Several LongPort accounts, each with its own days: one DAG per time zone, one mapped task per account in it.

Each account is an Airflow connection of type ``longport``; list their ids in the environment variable
``LONGPORT_CASHFLOW_ACCOUNTS``, comma-separated, each with the IANA time zone of its business day after ``=``
(UTC when none is given), e.g. ``fund_hk=Asia/Hong_Kong,fund_us=America/New_York,fund_eu``. The accounts of one
zone share a DAG, ``example_cashflow_accounts_<zone>``, scheduled at that zone's midnight: so each account's
``date=`` folders are its own local days. A schedule is the DAG's, so accounts of different zones cannot share one
(a Hong Kong account in a New York DAG would get New York days).

Every account lands in its own ``account=<conn_id>`` folder, which DuckDB, Polars, pandas and Spark read as a
column beside ``date``. LongPort counts its rate limit per account, and so does the provider: every account spends
its own budget (keyed by app key), shared by every worker on every machine when the connections set
``rate_limit_storage`` (e.g. ``redis://redis-host:6379/0``). One account that fails (an expired token) fails only
its own mapped task; the error names its connection, and the other accounts still land.

Downstream DAGs can be scheduled on the alias ``longport_cashflow:<output_path>``, or on one account's folder
asset, which the first run creates (e.g. ``file:///tmp/longport_cashflow/accounts/account=fund_hk``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from airflow.sdk import DAG

# Airflow 3.0 and 3.1 have it only here, and every later minor still takes it; from 3.2 on, airflow.sdk has it too.
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

OUTPUT = os.environ.get("LONGPORT_CASHFLOW_OUTPUT", "file:///tmp/longport_cashflow").rstrip("/")
ZONES: dict[str, list[str]] = defaultdict(list)  # time zone -> the accounts whose days are its days
for entry in os.environ.get("LONGPORT_CASHFLOW_ACCOUNTS", "longport_default").split(","):
    account, _, zone = entry.strip().partition("=")
    if account:
        ZONES[zone.strip() or "UTC"].append(account)

for zone, accounts in ZONES.items():
    with DAG(
        dag_id=f"example_cashflow_accounts_{zone.lower().replace('/', '_')}",
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone=zone),  # each run: one day of this zone
        start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo(zone)),
        catchup=False,
        max_active_runs=2,
        default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "pool": "longport_api"},
        tags=["longport", "example"],
        doc_md=__doc__,
    ):
        # {conn_id} becomes each mapped instance's connection id: one folder, one asset event and one budget per
        # account; the task instances are listed under their connection ids. The days are the timetable's zone's.
        # No page_size: each account pages at its data centre's default (10000 on AP, 100 on US).
        CashflowOperator.partial(
            task_id="extract_cash_flows",
            output_path=f"{OUTPUT}/accounts/account={{conn_id}}/date={{date}}/cashflow.jsonl",
            output_conn_id=os.environ.get("LONGPORT_CASHFLOW_OUTPUT_CONN") or None,
        ).expand(longport_conn_id=accounts)
