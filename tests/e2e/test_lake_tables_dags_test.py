"""A lake table under real Airflow (`airflow dags test`): one task mapped over two accounts commits each account's
day into one Iceberg table, and the metadata DB records the manifests and the asset events that name the table and
the snapshot each commit made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome
from tests.helpers.connections import connection_json, set_connection
from tests.helpers.data import DAY, END, UNLIMITED, day_bounds, expected
from tests.helpers.tables import duck, rows_by_day, same_rows, scan, sqlite_catalog

DAG_FILE = """
from datetime import datetime, timezone

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

with DAG(
    dag_id="cashflow_lake",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
):
    CashflowOperator.partial(task_id="extract", table="iceberg:cashflow.flows", lookback=1).expand(
        longport_conn_id=["fund_a", "fund_b"]
    )
"""


def test_a_task_mapped_over_accounts_commits_each_into_one_iceberg_table(
    tmp_path: Path, sandbox_process: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "cashflow_lake.py").write_text(DAG_FILE, encoding="utf-8")
    account = connection_json(sandbox_process, **UNLIMITED, timeout=5)
    catalog = sqlite_catalog(tmp_path / "catalog")
    home = AirflowHome(
        tmp_path / "home",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW_CONN_FUND_A=account,
        AIRFLOW_CONN_FUND_B=account,
        AIRFLOW_CONN_ICEBERG_DEFAULT=json.dumps(catalog),
    )
    home.migrate()
    assert home.dags_test([("cashflow_lake", END.date().isoformat())]) == ["success"]

    manifests = home.xcom("cashflow_lake", "extract")
    assert len(manifests) == 2 and {m["table"]["name"] for m in manifests} == {"cashflow.flows"}
    snapshots = {m["table"]["snapshot_id"] for m in manifests}
    assert len(snapshots) == 2  # one commit each
    extras = [json.loads(extra) for (extra,) in home.query("SELECT extra FROM asset_event ORDER BY id")]
    assert {e["table"]["snapshot_id"] for e in extras} == snapshots
    (uri,) = {u for (u,) in home.query("SELECT uri FROM asset")}
    assert uri == "iceberg://cashflow/flows"

    from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

    set_connection(monkeypatch, "iceberg_default", catalog)
    latest = IcebergHook().load_table("cashflow.flows").metadata_location  # as a reader finds it: in the catalog
    with duck() as con:
        for name in ("fund_a", "fund_b"):
            days = rows_by_day(con, scan("iceberg", latest), name)
            assert sorted(days) == [(END - 2 * DAY).date().isoformat(), (END - DAY).date().isoformat()]
            for day, rows in days.items():
                assert same_rows(rows, expected(sandbox_process, *day_bounds(day))), (name, day)
