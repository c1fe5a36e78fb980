"""Many accounts under real Airflow: ``example_cashflow_accounts`` mapped over three sandboxes in its UTC DAG, and
a Hong Kong account in its Hong Kong DAG.

Each sandbox plays one LongPort account with an app key, a token and a budget of its own; the third account's
token has expired. The Hong Kong account reads the first one's sandbox, under a connection id of its own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import PROGRAM_ENV, AirflowHome, program
from tests.helpers.connections import connection_json
from tests.helpers.data import expected
from tests.helpers.lake import jsonl

DAG_ID = "example_cashflow_accounts_utc"
HONG_KONG_DAG = "example_cashflow_accounts_asia_hong_kong"
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


@pytest.fixture(scope="module")
def airflow(
    tmp_path_factory: pytest.TempPathFactory, accounts: dict[str, SandboxProcess]
) -> tuple[AirflowHome, Path, str]:
    """The UTC DAG's run and the Hong Kong DAG's, in one ``dags test`` process; the home, the lake, their log."""
    root = tmp_path_factory.mktemp("accounts")
    lake = root / "lake"
    env = {f"AIRFLOW_CONN_{name.upper()}": _connection(name, sandbox) for name, sandbox in accounts.items()}
    home = AirflowHome(
        root / "home",
        LONGPORT_CASHFLOW_OUTPUT=f"file://{lake}",
        LONGPORT_CASHFLOW_ACCOUNTS=",".join([*ACCOUNTS, "fund_hk=Asia/Hong_Kong"]),
        AIRFLOW_CONN_FUND_HK=_connection("fund_a", accounts["fund_a"]),  # a Hong Kong account on fund_a's data
        **env,
    )
    home.migrate()
    runs = [(DAG_ID, LOGICAL.date().isoformat()), (HONG_KONG_DAG, LOGICAL.date().isoformat())]
    result = home.run(*program("dags_test"), json.dumps(runs), program=sys.executable, check=False, **PROGRAM_ENV)
    return home, lake, result.stdout + result.stderr


def _files(lake: Path, *accounts: str) -> list[str]:
    return sorted(
        str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and p.parts[-3][len("account=") :] in accounts
    )


def test_each_account_lands_in_its_own_folder_and_the_expired_one_is_named(
    airflow: tuple[AirflowHome, Path, str], accounts: dict[str, SandboxProcess]
) -> None:
    home, lake, output = airflow
    start = LOGICAL - DAY  # `dags test` with logical date D runs [D - 1 day, D)
    files = _files(lake, *ACCOUNTS)
    assert files == [f"accounts/account={name}/date={start.date()}/cashflow.jsonl" for name in ("fund_a", "fund_b")]
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
    events = home.query(
        "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id where a.uri not like '%fund_hk'"
        " order by a.uri"
    )
    assert [uri for uri, _ in events] == [f"file://{lake}/accounts/account={name}" for name in ("fund_a", "fund_b")]
    for (_uri, extra), name in zip(events, ("fund_a", "fund_b"), strict=False):
        assert json.loads(extra)["records"] == len(_truth(accounts[name], start))
    # one budget per account: the limiter files of the three app keys
    budgets = list((home.home / "tmp").glob("airflow-provider-cashflow-*.calls"))
    assert len(budgets) == 3, budgets


def test_a_hong_kong_account_gets_hong_kong_days_in_its_own_dag(
    airflow: tuple[AirflowHome, Path, str], accounts: dict[str, SandboxProcess]
) -> None:
    from zoneinfo import ZoneInfo

    home, lake, _ = airflow
    assert home.query("select state from dag_run where dag_id = ?", HONG_KONG_DAG) == [("success",)]
    ((interval_start,),) = home.query("select data_interval_start from dag_run where dag_id = ?", HONG_KONG_DAG)
    day = datetime.fromisoformat(interval_start).replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Hong_Kong"))
    assert day.hour == 0  # the run's day is a Hong Kong day, not the UTC DAG's
    rendered = home.query("select rendered_map_index from task_instance where dag_id = ?", HONG_KONG_DAG)
    assert rendered == [("fund_hk",)]  # the Hong Kong DAG maps over its own zone's accounts only
    (path,) = _files(lake, "fund_hk")
    assert path == f"accounts/account=fund_hk/date={day.date()}/cashflow.jsonl"
    rows = jsonl(lake / path)
    assert rows == _truth(accounts["fund_a"], day.astimezone(UTC)) and rows
