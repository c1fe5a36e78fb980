"""Cash flows of the day as XCom, summarised per currency by a downstream TaskFlow task.

Fits small accounts; for large intervals write to object storage instead (see example_cashflow_daily).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from airflow.sdk import DAG, task

# Airflow 3.0 and 3.1 have it only here, and every later minor still takes it; from 3.2 on, airflow.sdk has it too.
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

with DAG(
    dag_id="example_cashflow_xcom_summary",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args={"retries": 2, "pool": "longport_api"},
    tags=["longport", "example"],
    doc_md=__doc__,
):
    flows = CashflowOperator(task_id="extract_cash_flows", max_xcom_bytes=1_000_000)

    @task(multiple_outputs=False)
    def summarise(records: list[dict]) -> dict[str, dict[str, str]]:
        """Inflow, outflow and net per currency; amounts stay Decimal and travel as exact text."""
        totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"inflow": Decimal(0), "outflow": Decimal(0)})
        for record in records:
            side = "inflow" if record["direction"] == 2 else "outflow"
            totals[record["currency"]][side] += Decimal(record["balance"])
        return {
            currency: {
                "inflow": str(t["inflow"]),
                "outflow": str(t["outflow"]),
                "net": str(t["inflow"] + t["outflow"]),
                "records": str(sum(1 for r in records if r["currency"] == currency)),
            }
            for currency, t in sorted(totals.items())
        }

    summarise(flows.output)
