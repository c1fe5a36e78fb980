"""A template that cannot render fails the task at once, naming the field: it renders the same way on every try."""

from __future__ import annotations

import jinja2
import pytest

from airflow_provider_cashflow.compat import AirflowFailException
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

CONTEXT = {"ds": "2026-11-01", "params": {}}
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)  # Airflow's default for a DAG


@pytest.mark.parametrize(
    ("field", "template", "says"),
    [
        ("output_path", "file:///lake/{{ ds_nodahs }}/cashflow.jsonl", "UndefinedError: 'ds_nodahs' is undefined"),
        ("symbol", "{{ params.symbol }}", "UndefinedError: 'dict object' has no attribute 'symbol'"),
        ("file_format", "{{ ds }", "TemplateSyntaxError (line 1): unexpected '}'"),
    ],
)
def test_a_template_that_cannot_render_fails_without_retry_naming_its_field(
    field: str, template: str, says: str
) -> None:
    task = CashflowOperator(task_id="extract", **{field: template})  # type: ignore[arg-type]
    with pytest.raises(LongPortConfigError) as raised:
        task.render_template_fields(CONTEXT, ENV)  # type: ignore[arg-type]
    assert isinstance(raised.value, AirflowFailException)  # Airflow fails the task without a retry
    assert f"the template of {field} does not render: {says}" in str(raised.value)


def test_the_other_fields_render_as_before() -> None:
    task = CashflowOperator(task_id="extract", output_path="file:///lake/{{ ds }}/cashflow.jsonl", symbol="AAPL.US")
    task.render_template_fields(CONTEXT, ENV)  # type: ignore[arg-type]
    assert (task.output_path, task.symbol) == ("file:///lake/2026-11-01/cashflow.jsonl", "AAPL.US")
