"""The operator under real ``airflow dags test`` while the sandbox's history changes between its calls: day files
over a window widened by ``lookback``, small pages, a posting and a cancellation after every page served.
Every day file holds each record that existed throughout the run exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_cashflow.domain.models import parse_cash_flow
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome
from tests.helpers.connections import connection_json
from tests.helpers.data import UNLIMITED
from tests.helpers.lake import assert_no_temporary, files, jsonl

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)
DATA = ["--seed", "21", "--end", "2026-11-12T00:00:00+00:00", "--days", "10", "--per-day", "30", "--no-rate-limit"]
DRIFT = ["--drift-postings", "1", "--drift-cancellations", "1", "--drift-seed", "4"]
LOGICAL = datetime(2026, 11, 10, tzinfo=UTC)  # `dags test` with logical date D runs [D - 1 day, D)
DAYS = [LOGICAL - DAY * n for n in range(4, 0, -1)]  # lookback 3: the run's day and the three before it

DAG_FILE = """
import os
from datetime import datetime, timezone

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

with DAG("paging_drift", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False):
    CashflowOperator(task_id="extract", output_path=os.environ["DRIFT_LAKE"] + "/date={date}/cashflow.jsonl",
                     partition_by="day", lookback=3, page_size=7)
"""


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def test_day_files_hold_each_stable_record_once_while_the_history_changes(tmp_path: Path) -> None:
    dags, lake = tmp_path / "dags", tmp_path / "lake"
    dags.mkdir()
    (dags / "paging_drift.py").write_text(DAG_FILE)
    with SandboxProcess(*DATA, *DRIFT) as sandbox:
        home = AirflowHome(
            tmp_path / "home",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW_CONN_LONGPORT_DEFAULT=connection_json(sandbox, **UNLIMITED),
            DRIFT_LAKE=f"file://{lake}",
        )
        home.migrate()
        mark = sandbox.mark()
        home.run("dags", "test", "paging_drift", LOGICAL.date().isoformat())
        truths = {
            day: sandbox.drift_truth(int(day.timestamp()), int((day + DAY).timestamp()), after=mark) for day in DAYS
        }
        changes = sandbox.stats()["drift"]

    written = files(lake)
    assert_no_temporary(written)
    assert sorted(written) == [f"date={day.date()}/cashflow.jsonl" for day in DAYS]
    assert changes["posted"] > 10 and changes["cancelled"] > 10  # small pages: the history changed many times
    came = 0
    for day, truth in truths.items():
        rows = jsonl(written[f"date={day.date()}/cashflow.jsonl"])
        assert rows and len(rows) >= len(truth.throughout) > 10, day
        problems = truth.problems(map(_key, rows), key=lambda raw: _key(parse_cash_flow(raw).to_dict()))
        assert problems == {}, (day, problems)
        came += len(truth.came) + len(truth.went)
    assert came, "records must have come or gone inside the days written for the test to mean anything"
