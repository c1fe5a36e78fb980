"""Many accounts in one DAG under real Airflow: ``example_cashflow_accounts`` mapped over three sandboxes.

Each sandbox plays one LongPort account with an app key, a token and a budget of its own; the third account's
token has expired.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome
from tests.helpers.connections import connection_json
from tests.helpers.data import expected
from tests.helpers.lake import jsonl

DAG_ID = "example_cashflow_accounts"
DAY = timedelta(days=1)
LOGICAL = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - DAY
ACCOUNTS = ("fund_a", "fund_b", "fund_expired")


@pytest.fixture(scope="module")
def accounts() -> Iterator[dict[str, SandboxProcess]]:
    started: dict[str, SandboxProcess] = {}
    try:
        for seed, name in enumerate(ACCOUNTS, start=1):
            started[name] = SandboxProcess(
                "--seed",
                str(seed),
                "--days",
                "5",
                "--per-day",
                "40",
                "--app-key",
                f"{name}-key",
                "--access-token",
                f"{name}-token",
            ).start()
        started["fund_expired"].control(expire_token=True)
        yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()


def _connection(name: str, sandbox: SandboxProcess) -> str:
    return connection_json(sandbox, login=f"{name}-key", access_token=f"{name}-token", timeout=3)


def _truth(sandbox: SandboxProcess, start: datetime) -> list[dict]:
    return expected(sandbox, start, start + DAY)


def test_each_account_lands_in_its_own_folder_and_the_expired_one_is_named(
    tmp_path: Path, accounts: dict[str, SandboxProcess]
) -> None:
    lake = tmp_path / "lake"
    env = {f"AIRFLOW_CONN_{name.upper()}": _connection(name, sandbox) for name, sandbox in accounts.items()}
    home = AirflowHome(
        tmp_path / "home",
        LONGPORT_CASHFLOW_OUTPUT=f"file://{lake}",
        LONGPORT_CASHFLOW_ACCOUNTS=",".join(ACCOUNTS),
        **env,
    )
    home.migrate()
    result = home.run("dags", "test", DAG_ID, LOGICAL.date().isoformat(), check=False)
    output = result.stdout + result.stderr

    start = LOGICAL - DAY  # `dags test` with logical date D runs [D - 1 day, D)
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())
    assert files == [f"accounts/{name}/date={start.date()}/cashflow.jsonl" for name in ("fund_a", "fund_b")]
    for name in ("fund_a", "fund_b"):
        rows = jsonl(lake / files[ACCOUNTS.index(name)])
        assert rows and rows == _truth(accounts[name], start), name
        assert accounts[name].stats()["rejected_rate_limit"] == 0
    assert _truth(accounts["fund_a"], start) != _truth(accounts["fund_b"], start)  # really two accounts

    states = dict(home.query("select map_index, state from task_instance where dag_id = ?", DAG_ID))
    assert states == {0: "success", 1: "success", 2: "failed"}, states
    rendered = dict(home.query("select map_index, rendered_map_index from task_instance where dag_id = ?", DAG_ID))
    assert rendered == dict(enumerate(ACCOUNTS))  # the UI lists each account's task under its connection id
    assert "connection 'fund_expired'" in output and "401003" in output and "developer console" in output
    assert accounts["fund_expired"].stats()["rejected_auth"] >= 1

    # one asset per account, reached through the alias that the mapped task names at parse time
    events = home.query("select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id order by a.uri")
    assert [uri for uri, _ in events] == [f"file://{lake}/accounts/{name}" for name in ("fund_a", "fund_b")]
    for (_uri, extra), name in zip(events, ("fund_a", "fund_b"), strict=False):
        assert json.loads(extra)["records"] == len(_truth(accounts[name], start))
    # one budget per account: the limiter files of the three app keys
    budgets = list((tmp_path / "home" / "tmp").glob("airflow-provider-cashflow-*.calls"))
    assert len(budgets) == 3, budgets
