"""``{conn_id}`` in output_path: one folder and one asset per account, and errors that name the account."""

from __future__ import annotations

from datetime import UTC

import pytest
from airflow.sdk import AssetAlias
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected
from tests.helpers.lake import read_records
from tests.helpers.operator import run_operator


def test_conn_id_placeholder_gives_each_account_its_folder_and_asset(sandbox: Sandbox, tmp_path, monkeypatch) -> None:
    set_connection(monkeypatch, "fund_a", sandbox.connection(**UNLIMITED, timeout=2))
    path = f"file://{tmp_path}/{{conn_id}}/d={{date}}/cf.jsonl"
    manifest, context, op = run_operator(END - DAY, END, longport_conn_id="fund_a", output_path=path)
    target = tmp_path / "fund_a" / f"d={(END - DAY).date()}" / "cf.jsonl"
    assert read_records(target, "jsonl", "none") == expected(sandbox, END - DAY, END)
    (alias,) = op.outlets
    assert isinstance(alias, AssetAlias) and alias.name == f"longport_cashflow:{path}"
    (event,) = context["outlet_events"][alias].asset_alias_events
    assert event.dest_asset_key.uri == f"file://{tmp_path}/fund_a"
    assert event.extra["records"] == manifest["records"] > 0


def test_a_mapped_task_gets_the_alias_and_lists_instances_by_account(tmp_path) -> None:
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_cashflow.operators.cashflow import CashflowOperator

    with DAG("mapped_accounts", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):
        mapped = CashflowOperator.partial(
            task_id="x", output_path=f"file://{tmp_path}/{{conn_id}}/{{date}}.jsonl"
        ).expand(longport_conn_id=["a", "b"])
    (alias,) = mapped.partial_kwargs["outlets"]
    assert isinstance(alias, AssetAlias)
    assert mapped.partial_kwargs["map_index_template"] == "{{ task.longport_conn_id }}"


def test_a_conn_id_that_is_no_folder_name_fails_naming_the_account(sandbox: Sandbox, tmp_path, monkeypatch) -> None:
    with pytest.raises(AirflowFailException, match=r"longport_conn_id '\.\.' cannot stand for \{conn_id\}"):
        run_operator(END - DAY, END, longport_conn_id="..", output_path=f"file://{tmp_path}/{{conn_id}}/x.jsonl")
    assert not list(tmp_path.iterdir()) and sandbox.state.snapshot()["calls"] == 0  # before any call or file


def test_an_unreachable_budget_storage_leaves_the_task_to_airflows_retries(
    sandbox: Sandbox, tmp_path, monkeypatch
) -> None:
    from airflow_provider_cashflow.errors import RateLimitStorageError
    from tests.helpers.processes import free_port

    storage = f"redis://:s3cret-redis-pass@127.0.0.1:{free_port()}/0"  # nothing listens there
    set_connection(monkeypatch, "fund_r", sandbox.connection(rate_limit_storage=storage, timeout=2))
    with pytest.raises(RateLimitStorageError) as caught:  # not AirflowFailException: the task's retries apply
        run_operator(END - DAY, END, longport_conn_id="fund_r", output_path=f"file://{tmp_path}/{{conn_id}}/x.jsonl")
    assert "connection 'fund_r'" in caught.value.__notes__ and "s3cret" not in str(caught.value)
    assert sandbox.state.snapshot()["calls"] == 0 and not list(tmp_path.rglob("*.jsonl"))  # no unshared call
