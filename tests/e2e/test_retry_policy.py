"""The retry policy under real Airflow (``airflow dags test``): rate limits retried with backoff, auth errors
failed at once (on Airflow < 3.3 too, where the hook's no-retry failure does it without a policy)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import timedelta

import pytest

from airflow_provider_cashflow.compat import HAS_RETRY_POLICIES
from airflow_provider_cashflow.operators.cashflow import CashflowOperator
from airflow_provider_cashflow.operators.retry_policy import longport_retry_policy
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome
from tests.helpers.connections import connection_json

DAG_FILE = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, task

from airflow_provider_cashflow.compat import HAS_RETRY_POLICIES
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.operators.cashflow import CashflowOperator
from airflow_provider_cashflow.operators.retry_policy import longport_retry_policy

START, END = datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 2, tzinfo=timezone.utc)
# Airflow >= 3.3: the policy's 1 s waits replace the task's 10 minutes, which `dags test` would sit through.
POLICY = {"retry_policy": longport_retry_policy(rate_limit_delay=timedelta(seconds=1),
                                                server_delay=timedelta(seconds=1))} if HAS_RETRY_POLICIES else {}
DELAY = timedelta(minutes=10) if HAS_RETRY_POLICIES else timedelta(seconds=1)

with DAG("retry_policy_probe", schedule=None, start_date=START,
         default_args={"retries": 2, "retry_delay": DELAY}):
    CashflowOperator(task_id="rate_limited", longport_conn_id="lp_limited", window_start=START, window_end=END,
                     **POLICY)

    @task(**POLICY)
    def wrong_secret() -> int:
        return len(list(CashflowHook("lp_wrong").iter_cash_flows(START, END)))

    wrong_secret()
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowHome, int]]:
    root = tmp_path_factory.mktemp("retry")
    (root / "dags").mkdir()
    (root / "dags" / "retry_policy_probe.py").write_text(textwrap.dedent(DAG_FILE))
    with (
        SandboxProcess("--no-rate-limit", "--fail-after-pages", "0", "--fail-kind", "429") as limited,
        SandboxProcess("--no-rate-limit", "--days", "2") as healthy,
    ):
        home = AirflowHome(
            root / "home",
            AIRFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
            AIRFLOW_CONN_LP_LIMITED=connection_json(limited, max_attempts=1),
            AIRFLOW_CONN_LP_WRONG=connection_json(healthy.base_url, password="not-the-app-secret"),
        )
        home.migrate_db()
        home.register_dags()
        home.run("dags", "test", "retry_policy_probe", check=False)
        yield home, limited.stats()["calls"]


def _tries(home: AirflowHome, task_id: str) -> tuple[int, str]:
    ((try_number, state),) = home.query("select try_number, state from task_instance where task_id = ?", task_id)
    return try_number, state


def test_rate_limits_are_retried_up_to_the_tasks_retries(run: tuple[AirflowHome, int]) -> None:
    home, calls = run
    assert _tries(home, "rate_limited") == (3, "failed")
    assert calls == 3  # one call per try: max_attempts=1, and nothing left behind


def test_the_policy_decides_the_wait_and_says_why(run: tuple[AirflowHome, int]) -> None:
    home, _ = run
    if not HAS_RETRY_POLICIES:  # the task's own retry_delay paced the retries, as it always has
        with pytest.raises(ImportError, match=r"Airflow >= 3\.3"):
            longport_retry_policy()
        return
    rows = home.query(
        "select try_number, retry_delay_override, retry_reason from task_instance_history "
        "where task_id = 'rate_limited' order by try_number"
    )
    assert [(t, d) for t, d, _ in rows] == [(1, 1.0), (2, 2.0)]  # backoff: 1 s, then 2 s
    assert all("rate limit" in reason and "429001" in reason for _, _, reason in rows)


def test_a_wrong_secret_fails_at_once_with_or_without_the_policy(run: tuple[AirflowHome, int]) -> None:
    home, _ = run
    # the hook raises what no retry cures as Airflow's no-retry failure, on every Airflow 3 minor
    assert _tries(home, "wrong_secret") == (1, "failed")


def test_the_operator_takes_the_policy_by_default_where_airflow_has_them() -> None:
    operator = CashflowOperator(task_id="extract")
    if HAS_RETRY_POLICIES:
        assert type(operator.retry_policy).__name__ == "LongPortRetryPolicy"
        mine = longport_retry_policy(max_delay=timedelta(minutes=5))
        assert CashflowOperator(task_id="other", retry_policy=mine).retry_policy is mine  # the DAG's choice wins
    else:
        assert getattr(operator, "retry_policy", None) is None
