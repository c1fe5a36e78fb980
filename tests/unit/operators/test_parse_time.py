"""What building the operator (parsing the DAG file) checks: a literal mistake fails at once; what only the run
can know (the account's region, a template's value) is left to the run."""

from __future__ import annotations

import pytest

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
