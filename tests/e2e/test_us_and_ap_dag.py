"""One mapped task over an AP and a US account under ``airflow dags test``: each reads its own data centre's
endpoint, and both land in New York day files of the same cash-flow columns, exact for the 25-hour day that ends
DST (2026-11-01), with a lookback across the change."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.domain.us_transactions import parse_us_transaction, to_cash_flow
from airflow_provider_cashflow.sandbox import DEMO_US
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome
from tests.helpers.connections import connection_json
from tests.helpers.data import expected
from tests.helpers.lake import jsonl

DAG_ID = "us_and_ap_accounts"
NEW_YORK = ZoneInfo("America/New_York")
DAG_FILE = f'''
import os
from datetime import datetime, timezone

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.operators.cashflow import CashflowOperator

with DAG(
    dag_id="{DAG_ID}",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="America/New_York"),
    start_date=datetime(2026, 10, 1, tzinfo=timezone.utc),
    catchup=False,
):
    CashflowOperator.partial(
        task_id="extract",
        output_path=os.environ["LAKE"] + "/{{conn_id}}/date={{date}}/cashflow.jsonl",
        partition_by="day",
        lookback=1,
    ).expand(longport_conn_id=["longport_ap", "longport_us"])
'''
DAYS = {  # the run's New York days: Saturday, and Sunday with 25 hours
    "2026-10-31": (datetime(2026, 10, 31, tzinfo=NEW_YORK), datetime(2026, 11, 1, tzinfo=NEW_YORK)),
    "2026-11-01": (datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 2, tzinfo=NEW_YORK)),
}


def _rows(rows: list[dict]) -> Counter:
    return Counter(json.dumps(row, sort_keys=True) for row in rows)


def test_one_mapped_task_lands_an_ap_and_a_us_account_in_new_york_days(tmp_path: Path) -> None:
    lake, dags = tmp_path / "lake", tmp_path / "dags"
    dags.mkdir()
    (dags / "us_and_ap.py").write_text(DAG_FILE, encoding="utf-8")
    args = ["--seed", "5", "--days", "6", "--per-day", "30", "--end", "2026-11-04T12:00:00+00:00"]
    with SandboxProcess(*args, "--us-order", "shuffled", "--us-time-field", "done_at") as sandbox:
        home = AirflowHome(
            tmp_path / "home",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            LAKE=lake.as_uri(),
            AIRFLOW_CONN_LONGPORT_AP=connection_json(sandbox, timeout=5),
            AIRFLOW_CONN_LONGPORT_US=connection_json(
                sandbox,
                login=DEMO_US.app_key,
                password=DEMO_US.app_secret,
                access_token=DEMO_US.access_token,
                timeout=5,
            ),
        )
        home.migrate()
        # a run after New York's midnight of 2026-11-02: its data interval is the 25-hour Sunday
        result = home.run("dags", "test", DAG_ID, "2026-11-02T12:00:00+00:00", check=False)
        states = dict(home.query("select map_index, state from task_instance where dag_id = ?", DAG_ID))
        assert states == {0: "success", 1: "success"}, result.stdout[-3000:] + result.stderr[-3000:]
        rendered = dict(home.query("select map_index, rendered_map_index from task_instance where dag_id = ?", DAG_ID))
        assert rendered == {0: "longport_ap", 1: "longport_us"}

        files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())
        assert files == [f"{conn}/date={day}/cashflow.jsonl" for conn in ("longport_ap", "longport_us") for day in DAYS]
        for day, (start, end) in DAYS.items():
            ap = jsonl(lake / f"longport_ap/date={day}/cashflow.jsonl")
            assert ap and _rows(ap) == _rows(expected(sandbox, start, end)), day
            us = jsonl(lake / f"longport_us/date={day}/cashflow.jsonl")
            truth = sandbox.us_records(int(start.timestamp()), int(end.timestamp()))
            assert us and _rows(us) == _rows(
                [to_cash_flow(parse_us_transaction(r), "done_at").to_dict() for r in truth]
            ), day
            assert set(us[0]) == set(ap[0])  # one table: the same columns
        stats = sandbox.stats()
        assert stats["rejected_region"] == 0 and stats["rejected_auth"] == 0

    manifests = {m["dc_region"]: m for m in home.xcom(DAG_ID, "extract")}
    assert set(manifests) == {"ap", "us"}
    for manifest in manifests.values():
        assert manifest["partition_timezone"] == "America/New_York"
        assert manifest["interval"] == {
            "start": DAYS["2026-10-31"][0].astimezone(UTC).isoformat(),
            "end": DAYS["2026-11-01"][1].astimezone(UTC).isoformat(),
        }
    assert "types" in manifests["us"]["query"] and "symbol" in manifests["ap"]["query"]
    events = home.query("select a.uri from asset_event e join asset a on a.id = e.asset_id order by a.uri")
    assert [uri for (uri,) in events] == [f"{lake.as_uri()}/longport_ap", f"{lake.as_uri()}/longport_us"]
