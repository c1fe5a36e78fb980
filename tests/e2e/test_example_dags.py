"""The example DAGs: they parse, and they run under real Airflow (`airflow dags test`) against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import EXAMPLE_DAGS, AirflowHome
from tests.helpers.connections import connection_json
from tests.helpers.data import expected
from tests.helpers.lake import jsonl

DAY = timedelta(days=1)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
EXAMPLES = {
    "example_cashflow_daily",
    "example_cashflow_xcom_summary",
    "example_cashflow_monthly_backfill",
    "example_cashflow_accounts_utc",
    "example_cashflow_hong_kong",
}


def test_example_dags_parse_without_import_errors() -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXAMPLES
    for dag_id in EXAMPLES:
        dag = bag.dags[dag_id]
        assert dag.tasks and dag.timetable.__class__.__name__ == "CronDataIntervalTimetable"
        assert all(t.pool == "longport_api" for t in dag.tasks)


@pytest.fixture(scope="module")
def sandbox_now() -> Iterator[SandboxProcess]:
    """Data up to now (enough for the month the monthly example reads), the real rate limit on."""
    with SandboxProcess("--days", "70", "--per-day", "30") as process:
        yield process


# Each example runs once, in one `airflow dags test` process (the daily one runs again below, as a process of its
# own). The monthly example reads the month before the daily one's day, so that no file has two writers: what
# each test reads was written by its DAG alone.
RUNS = {
    "example_cashflow_daily": TODAY - DAY,  # `dags test` with a CronDataIntervalTimetable runs [D - 1 day, D)
    "example_cashflow_xcom_summary": TODAY - 2 * DAY,
    "example_cashflow_monthly_backfill": (TODAY - 2 * DAY).replace(day=1),  # the interval ending at D: a month
    "example_cashflow_hong_kong": TODAY - DAY,
}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, sandbox_now: SandboxProcess) -> AirflowHome:
    root = tmp_path_factory.mktemp("af")
    home = AirflowHome(
        root / "home",
        AIRFLOW_CONN_LONGPORT_DEFAULT=connection_json(sandbox_now),
        LONGPORT_CASHFLOW_OUTPUT=f"file://{root}/lake",
    )
    home.migrate()
    outcomes = home.dags_test([(dag_id, date.date().isoformat()) for dag_id, date in RUNS.items()])
    assert outcomes == ["success"] * len(RUNS), dict(zip(RUNS, outcomes, strict=True))
    return home


def test_daily_dag_writes_the_interval_exactly_and_reruns_byte_identical(airflow: AirflowHome, sandbox_now) -> None:
    logical = RUNS["example_cashflow_daily"]
    start = logical - DAY
    path = airflow.lake / f"date={start.date()}" / "cashflow.jsonl"
    rows = jsonl(path)
    assert rows == expected(sandbox_now, start, logical) and rows
    first = path.read_bytes()
    manifest = airflow.xcom("example_cashflow_daily", "extract_cash_flows")[-1]
    assert manifest["records"] == len(rows) and manifest["files"][0]["path"] == f"file://{path}"
    rerun = airflow.run("dags", "test", "example_cashflow_daily", logical.date().isoformat())
    assert path.read_bytes() == first
    log = rerun.stdout + rerun.stderr  # the task's log: the manifest once, in one short line
    # Airflow 3.0's `dags test` echoes each task log record twice, in two timestamp formats: one message, two lines
    (line,) = {line.split("manifest: ", 1)[1] for line in log.splitlines() if "manifest: " in line}
    line = f"manifest: {line}"
    assert f"manifest: 1 file, {len(rows)} records, {len(first)} bytes, 1 API call for [{start.isoformat()}" in line
    assert f": file://{path}" in line, line
    assert sandbox_now.stats()["rejected_rate_limit"] == 0


def test_xcom_dag_summarises_per_currency(airflow: AirflowHome, sandbox_now) -> None:
    logical = RUNS["example_cashflow_xcom_summary"]
    assert airflow.query("select state from dag_run where dag_id = 'example_cashflow_xcom_summary'") == [("success",)]
    want = expected(sandbox_now, logical - DAY, logical)
    (records,) = airflow.xcom("example_cashflow_xcom_summary", "extract_cash_flows")
    assert records == want
    (summary,) = airflow.xcom("example_cashflow_xcom_summary", "summarise")
    for currency in {r["currency"] for r in want}:
        mine = [r for r in want if r["currency"] == currency]
        inflow = sum((Decimal(r["balance"]) for r in mine if r["direction"] == 2), Decimal(0))
        outflow = sum((Decimal(r["balance"]) for r in mine if r["direction"] == 1), Decimal(0))
        assert Decimal(summary[currency]["inflow"]) == inflow and Decimal(summary[currency]["outflow"]) == outflow
        assert int(summary[currency]["records"]) == len(mine)


def test_monthly_backfill_dag_writes_the_daily_layout(airflow: AirflowHome, sandbox_now) -> None:
    month_end = RUNS["example_cashflow_monthly_backfill"]
    month_start = (month_end - DAY).replace(day=1)
    day = month_start
    days = 0
    while day < month_end:
        path = airflow.lake / f"date={day.date()}" / "cashflow.jsonl"
        assert jsonl(path) == expected(sandbox_now, day, day + DAY)
        day += DAY
        days += 1
    manifest = airflow.xcom("example_cashflow_monthly_backfill", "extract_month_by_day")[-1]
    assert len(manifest["files"]) == days and manifest["api_calls"] == 1


def test_hong_kong_dag_writes_hong_kong_days_with_a_three_day_lookback(airflow: AirflowHome, sandbox_now) -> None:
    from zoneinfo import ZoneInfo

    hong_kong = ZoneInfo("Asia/Hong_Kong")
    manifest = airflow.xcom("example_cashflow_hong_kong", "extract_hong_kong_days")[-1]
    start, end = (datetime.fromisoformat(manifest["interval"][k]) for k in ("start", "end"))
    assert manifest["partition_timezone"] == "Asia/Hong_Kong"
    assert end.astimezone(hong_kong).time().hour == 0 and (end - start) == 4 * DAY  # its own day and three before
    assert [c["date"] for c in manifest["rewritten"]] == [
        (end.astimezone(hong_kong) - k * DAY).date().isoformat() for k in (4, 3, 2, 1)
    ]
    for change in manifest["rewritten"]:
        day = datetime.fromisoformat(change["date"]).replace(tzinfo=hong_kong)
        rows = jsonl(airflow.lake / "hong_kong" / f"date={change['date']}" / "cashflow.jsonl")
        assert rows == expected(sandbox_now, day, day + DAY) and change["records"] == len(rows)
    assert manifest["api_calls"] == 1  # four days in one paged stream
