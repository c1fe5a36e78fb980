"""Running the operator the way a task would, without a metadata DB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

_counter = iter(range(1_000_000))


def run_operator(
    start: datetime | None,
    end: datetime | None,
    *,
    schedule: Any = None,
    extra_context: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[Any, dict, CashflowOperator]:
    """Build the operator inside a DAG, render its templates against a hand-built context, execute it."""
    with DAG(f"test_dag_{next(_counter)}", schedule=schedule, start_date=datetime(2020, 1, 1, tzinfo=UTC)):
        op = CashflowOperator(task_id="extract", **kwargs)
    context: dict[str, Any] = {"outlet_events": OutletEventAccessors(), "params": {}, **(extra_context or {})}
    if start is not None:
        context["data_interval_start"] = start
    if end is not None:
        context["data_interval_end"] = end
    # a hand-built context: what a task's context holds for the operator, no more
    op.render_template_fields(context)  # type: ignore[arg-type]
    return op.execute(context), context, op  # type: ignore[arg-type]
