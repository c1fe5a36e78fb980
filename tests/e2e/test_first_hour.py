"""A newcomer's first mistakes under real Airflow: literal ones are the DAG file's import error, with our message;
what no retry can cure fails in one try, with or without a retry policy; what a retry may cure is retried.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import PROGRAM_ENV, AirflowHome, program
from tests.helpers.connections import longport_connection
from tests.helpers.servers import MotoServer

pytestmark = pytest.mark.e2e

HEADER = """
import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
"""

# file name -> (operator arguments, DAG arguments, what the import error says)
BAD_DAG_FILES = {
    "daily_trigger": (
        "",
        'schedule="@daily"',
        "the DAG's timetable (CronTriggerTimetable('0 0 * * *')) gives each run an empty data interval",
    ),
    "lookback_interval": (
        'lookback=3, partition_by="interval", output_path="file:///tmp/first-hour/x.jsonl"',
        "schedule=None",
        "lookback=3 re-reads past days and rewrites their files, so it needs partition_by='day'",
    ),
    "page_size": (
        "page_size=0",
        "schedule=None",
        "page_size must be a whole number of 1 or more (at most 10000 for an AP account), got 0",
    ),
    "file_format": (
        'file_format="xlsx"',
        "schedule=None",
        "file_format must be one of jsonl, csv, parquet; got 'xlsx'",
    ),
    "row_group": ("parquet_row_group_size=0", "schedule=None", "parquet_row_group_size must be a whole number"),
    "weekly_date": (
        'output_path="file:///tmp/first-hour/date={date}/cashflow.jsonl"',
        'schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC")',
        "output_path names its file by {date}, one local day, but the window [2026-01-05T00:00:00+00:00, "
        "2026-01-12T00:00:00+00:00) (2026-01-05 00:00 to 2026-01-12 00:00 UTC) is longer than a day",
    ),
}

# the same mistakes behind templates parse, and are left to the run
TEMPLATED = (
    HEADER
    + """
with DAG("first_hour_templated", schedule=None, start_date=START, params={"fmt": "xlsx", "size": 20000}):
    CashflowOperator(task_id="extract", file_format="{{ params.fmt }}", page_size="{{ params.size }}")
"""
)

RETRIES = (
    HEADER
    + """
LAKE = "file://" + os.environ["FIRST_HOUR_LAKE"]
WINDOW = {"window_start": START, "window_end": START + timedelta(days=1)}

with DAG("first_hour_retries", schedule=None, start_date=START,
         default_args={"retries": 2, "retry_delay": timedelta(seconds=1)},
         params={"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-08T00:00:00+00:00"}):
    CashflowOperator(task_id="operator_typo", longport_conn_id="longport_defualt", **WINDOW)
    CashflowOperator(task_id="template_typo", output_path=LAKE + "/{{ ds_nodahs }}/cashflow.jsonl", **WINDOW)
    # a week into one {date} folder, known only once the templates render; a call would fail and be retried
    CashflowOperator(task_id="week_into_one_date", longport_conn_id="longport_faulty",
                     output_path=LAKE + "/week/date={date}/cashflow.jsonl",
                     window_start="{{ params.start }}", window_end="{{ params.end }}")
    # a run failing on its first call, writing by day, leaves no folder, file or upload behind (no retry: the
    # retry policy's first wait after a server fault is a minute)
    for name, path, conn in [("file", LAKE + "/failed", None), ("s3", "s3://lake/failed", "aws_moto")]:
        CashflowOperator(task_id=f"first_call_fails_{name}", longport_conn_id="longport_faulty", retries=0,
                         output_path=path + "/account={conn_id}/date={date}/cashflow.jsonl", output_conn_id=conn,
                         partition_by="day", window_start=START, window_end=START + timedelta(days=3))

    @task
    def hook_typo() -> int:
        return len(list(CashflowHook("longport_defualt").iter_cash_flows(START, START + timedelta(days=1))))

    @task
    def naive_datetime() -> int:
        return len(list(CashflowHook().iter_cash_flows(datetime(2026, 11, 1), datetime(2026, 11, 2))))

    @task
    def bad_business_type() -> int:
        return len(list(CashflowHook().iter_cash_flows(START, START + timedelta(days=1), business_type="cash")))

    @task
    def server_fault() -> int:  # a 5xx: a later try may succeed
        return len(list(CashflowHook("longport_faulty").iter_cash_flows(START, START + timedelta(days=1))))

    hook_typo()
    naive_datetime()
    bad_business_type()
    server_fault()
"""
)


# a schedule at each zone's midnight, for what `airflow backfill create --from-date/--to-date` picks (docs/backfilling.md)
LOCAL_DAYS = (
    HEADER
    + """
for name, zone in [("new_york", "America/New_York"), ("hong_kong", "Asia/Hong_Kong")]:
    with DAG(f"first_hour_{name}", schedule=CronDataIntervalTimetable("0 0 * * *", timezone=zone),
             start_date=START, catchup=False):
        CashflowOperator(task_id="extract", output_path="file:///tmp/first-hour/date={date}/cashflow.jsonl")
"""
)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer) -> Iterator[tuple[AirflowHome, str]]:
    root = tmp_path_factory.mktemp("first_hour")
    dags = root / "dags"
    dags.mkdir()
    for name, (arguments, dag_arguments, _) in BAD_DAG_FILES.items():
        (dags / f"bad_{name}.py").write_text(
            textwrap.dedent(
                HEADER
                + f"""
with DAG("bad_{name}", {dag_arguments}, start_date=START):
    CashflowOperator(task_id="extract", {arguments})
"""
            )
        )
    (dags / "templated.py").write_text(TEMPLATED)
    (dags / "retries.py").write_text(RETRIES)
    (dags / "local_days.py").write_text(LOCAL_DAYS)
    with (
        SandboxProcess("--no-rate-limit", "--days", "2") as healthy,
        SandboxProcess("--no-rate-limit", "--fail-after-pages", "0", "--fail-kind", "5xx") as faulty,
    ):
        home = AirflowHome(
            root / "home",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW_CONN_LONGPORT_DEFAULT=json.dumps(longport_connection(healthy.base_url)),
            AIRFLOW_CONN_LONGPORT_FAULTY=json.dumps(longport_connection(faulty.base_url, max_attempts=1)),
            AIRFLOW_CONN_AWS_MOTO=json.dumps(s3_server.connection()),
            AWS_EC2_METADATA_DISABLED="true",
            FIRST_HOUR_LAKE=str(root / "lake"),
        )
        home.migrate_db()
        home.run("dags", "reserialize")  # parses the folder and records each file's import error
        test = home.run("dags", "test", "first_hour_retries", check=False)
        yield home, test.stdout + test.stderr


def _import_errors(home: AirflowHome) -> dict[str, str]:
    listed = home.run("dags", "list-import-errors", "--output", "json", check=False)  # exits 1 when there are any
    assert listed.returncode == 1, listed.stderr[-2000:]
    (table,) = [line for line in listed.stdout.splitlines() if line.startswith("[{")]  # after Airflow's warnings
    rows = json.loads(table)
    return {Path(row["filepath"]).name: row["error"] for row in rows}


def test_literal_mistakes_are_the_dag_file_s_import_error_with_our_message(airflow: tuple[AirflowHome, str]) -> None:
    home, _ = airflow
    errors = _import_errors(home)
    for name, (_, _, message) in BAD_DAG_FILES.items():
        error = errors[f"bad_{name}.py"]
        assert "LongPortConfigError" in error and message in error, error
        assert "connection 'longport_default'" not in error  # a parameter, not the connection
    assert "templated.py" not in errors and "retries.py" not in errors, errors


def _tries(home: AirflowHome, task_id: str) -> tuple[int, str]:
    ((try_number, state),) = home.query(
        "select try_number, state from task_instance where dag_id = 'first_hour_retries' and task_id = ?", task_id
    )
    return try_number, state


@pytest.mark.parametrize("task_id", ["operator_typo", "hook_typo", "naive_datetime", "bad_business_type"])
def test_what_no_retry_cures_fails_in_one_try_despite_retries(airflow: tuple[AirflowHome, str], task_id: str) -> None:
    home, _ = airflow
    assert _tries(home, task_id) == (1, "failed")


def test_a_server_fault_is_still_retried(airflow: tuple[AirflowHome, str]) -> None:
    home, _ = airflow
    assert _tries(home, "server_fault") == (3, "failed")


def test_a_missing_connection_says_what_exists_and_what_was_meant(airflow: tuple[AirflowHome, str]) -> None:
    _, output = airflow
    assert "connection 'longport_defualt' is not defined; did you mean 'longport_default'?" in output, output[-3000:]
    assert "The longport connections this process can see: 'longport_default', 'longport_faulty'" in output
    assert "isn't defined" not in output  # Airflow's bare message is replaced, not added to


def test_a_template_that_cannot_render_fails_in_one_try_naming_its_field(airflow: tuple[AirflowHome, str]) -> None:
    home, output = airflow
    assert _tries(home, "template_typo") == (1, "failed")
    assert "the template of output_path does not render: UndefinedError: 'ds_nodahs' is undefined" in output


def test_a_templated_week_into_one_date_folder_is_refused_at_run_start(airflow: tuple[AirflowHome, str]) -> None:
    home, output = airflow
    assert _tries(home, "week_into_one_date") == (1, "failed")  # no call made: the sandbox's 5xx would be retried
    assert "is longer than a day, so one date= folder would hold several days' records" in output
    assert "Add partition_by='day'" in output


def test_a_run_failing_on_its_first_call_leaves_nothing_behind(
    airflow: tuple[AirflowHome, str], s3_server: MotoServer
) -> None:
    home, _ = airflow
    assert _tries(home, "first_call_fails_file") == (1, "failed")
    assert _tries(home, "first_call_fails_s3") == (1, "failed")
    lake = Path(home.env["FIRST_HOUR_LAKE"])
    assert not lake.exists(), sorted(str(path) for path in lake.rglob("*"))  # nor the folder it would write in
    client = s3_server.client()
    assert client.list_objects_v2(Bucket="lake", Prefix="failed/").get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket="lake").get("Uploads", []) == []


def _backfilled_days(home: AirflowHome, *ranges: tuple[str, str, str]) -> list[list[str]]:
    """The local days ``airflow backfill create --dry-run`` would run for each ``(dag, from, to)``, in one process."""
    commands = [
        ["backfill", "create", "--dag-id", dag, "--from-date", start, "--to-date", end, "--dry-run"]
        for dag, start, end in ranges
    ]
    output = home.run(*program("cli_runs"), json.dumps(commands), program=sys.executable, **PROGRAM_ENV).stdout
    zones = {"first_hour_new_york": "America/New_York", "first_hour_hong_kong": "Asia/Hong_Kong"}
    days = []
    for (dag, _, _), section in zip(ranges, output.split("CLI-RUN ")[1:], strict=True):
        moments = re.findall(
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}", section.split("Runs to be attempted")[1]
        )
        local = [datetime.fromisoformat(m).astimezone(ZoneInfo(zones[dag])) for m in moments]
        assert all(moment.hour == 0 for moment in local), local  # each run is one local day
        days.append([moment.date().isoformat() for moment in local])
    return days


def test_backfill_dates_of_a_local_schedule_are_utc_midnights_and_offsets_make_them_exact(
    airflow: tuple[AirflowHome, str],
) -> None:
    home, _ = airflow
    new_york, hong_kong, new_york_exact, hong_kong_exact = _backfilled_days(
        home,
        ("first_hour_new_york", "2026-10-29", "2026-11-04"),
        ("first_hour_hong_kong", "2026-10-29", "2026-11-04"),
        ("first_hour_new_york", "2026-10-29T00:00:00-04:00", "2026-11-04T00:00:00-05:00"),
        ("first_hour_hong_kong", "2026-10-29T00:00:00+08:00", "2026-11-04T00:00:00+08:00"),
    )
    week = [f"2026-10-{day}" for day in (29, 30, 31)] + [f"2026-11-0{day}" for day in (1, 2, 3, 4)]
    assert new_york == week[:-1]  # a bare --to-date is midnight UTC: New York's Nov 4 starts after it
    assert hong_kong == week[1:]  # ... and Hong Kong's Oct 29 starts before a bare --from-date
    assert new_york_exact == hong_kong_exact == week  # local midnights with their offsets: the days asked for
