"""The account's calendar under a real scheduler: day partitions in three time zones, lookback, partitioned runs.

One `airflow standalone` serves every DAG of this module (generated into one dags folder), and each scenario is
one `airflow backfill create`: Airflow's own runs decide the windows, the operator only follows them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_cashflow.sandbox import DatasetSpec, RevisionSpec
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome, AirflowServer
from tests.helpers.connections import connection_json
from tests.helpers.data import HOUR, UNLIMITED, expected, sandbox_flags
from tests.helpers.lake import assert_no_temporary, files, jsonl

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)
PLAIN = DatasetSpec(seed=7, days=20, per_day=30, end=datetime(2026, 11, 12, tzinfo=UTC))
REVISIONS = RevisionSpec(late_share=0.25, late_max_hours=48, provisional_share=1, settle_hours=30)
PLAIN_FLAGS = [*sandbox_flags(PLAIN), "--no-rate-limit"]
REVISING_FLAGS = [
    *sandbox_flags(replace(PLAIN, revisions=REVISIONS)),
    "--no-rate-limit",
    "--as-of-after-request",
    str(HOUR),
]
# New York: a week across the end of its daylight saving time (Sunday 2026-11-01 has 25 hours there); the other
# zones: four days, enough for consecutive runs and a re-run in the middle, and fewer task processes.
SPANS = {"America/New_York": ("2026-10-28", "2026-11-03")}
SHORT = ("2026-10-30", "2026-11-02")
# a re-run of one run of each DAG: logical dates Oct 31 00:00 UTC, Oct 30 16:00 UTC (Hong Kong midnight),
# Oct 31 04:00 UTC (New York midnight) are the only ones in this range
RERUN = ("2026-10-30T12:00:00", "2026-10-31T06:00:00")
ZONES = {"utc": "UTC", "hk": "Asia/Hong_Kong", "ny": "America/New_York"}
SCHEDULES = [(f"cal_{short}_{by}", zone, by) for short, zone in ZONES.items() for by in ("interval", "day")]
LOOKBACK_FIRST, LOOKBACK_LAST = "2026-10-28", "2026-11-06"  # ten daily runs
REPORT: dict[str, Any] = {}

DAG_FILE = """
from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 12, tzinfo=timezone.utc)  # the data's end: unpausing schedules no run of today


def extract(dag_id, schedule, conn_id, max_active_runs=4, **kwargs):
    with DAG(dag_id, schedule=schedule, start_date=START, end_date=END, catchup=False, max_active_runs=max_active_runs):
        CashflowOperator(task_id="extract", longport_conn_id=conn_id,
                         output_path=f"file://{LAKE}/{dag_id}/date={{date}}/cashflow.jsonl", **kwargs)


for dag_id, zone, partition_by in SCHEDULES:
    extract(dag_id, CronDataIntervalTimetable("0 0 * * *", timezone=zone), "longport_plain", partition_by=partition_by)
for dag_id, lookback in (("cal_lookback", 3), ("cal_no_lookback", None)):
    extract(dag_id, CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), "longport_revising", max_active_runs=1,
            partition_by="day", lookback=lookback)
try:
    from airflow.sdk import CronPartitionTimetable
except ImportError:  # Airflow < 3.2 has no partitioned runs
    pass
else:
    extract("cal_partitioned", CronPartitionTimetable("0 0 * * *", timezone="Asia/Hong_Kong"), "longport_plain",
            partition_by="day")
"""


@pytest.fixture(scope="module")
def stack(standalone: AirflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The session's ``airflow standalone`` (see conftest.py) with this module's DAGs, connections and lake."""
    module_started = time.monotonic()
    home = standalone.home
    lake = tmp_path_factory.mktemp("calendar") / "lake"
    (home.dags_folder / "calendar_dags.py").write_text(f"SCHEDULES = {SCHEDULES!r}\nLAKE = {str(lake)!r}\n{DAG_FILE}")
    with SandboxProcess(*PLAIN_FLAGS) as plain, SandboxProcess(*REVISING_FLAGS) as revising:
        for conn_id, sandbox in (("longport_plain", plain), ("longport_revising", revising)):
            conn = connection_json(sandbox, **UNLIMITED, timeout=5)
            home.run_beside_scheduler("connections", "add", conn_id, "--conn-json", conn)
        try:
            dag_ids = [d for d, _, _ in SCHEDULES] + ["cal_lookback", "cal_no_lookback", "cal_partitioned"]
            standalone.wait_for_dags(dag_ids)
            home.run_beside_scheduler("dags", "unpause", "--treat-dag-id-as-regex", "--yes", "^cal_")
            started = time.monotonic()
            _create_backfills(
                home,
                [(d, *SPANS.get(zone, SHORT), 4, None) for d, zone, _ in SCHEDULES]
                + [("cal_partitioned", *SHORT, 4, None)]
                + [(d, LOOKBACK_FIRST, LOOKBACK_LAST, 1, None) for d in ("cal_lookback", "cal_no_lookback")],
            )
            REPORT["creating 9 backfills s"] = round(time.monotonic() - started, 1)
            yield {"home": home, "server": standalone, "plain": plain, "revising": revising, "lake": lake}
        finally:
            REPORT["module s"] = round(time.monotonic() - module_started, 1)
            print("\nCALENDAR E2E FIGURES:", json.dumps(REPORT, indent=1))


CREATE_BACKFILLS = """
import json, sys, time
from datetime import datetime, timezone
from sqlalchemy.exc import OperationalError
from airflow.models.backfill import ReprocessBehavior, _create_backfill

for dag_id, first, last, max_active_runs, reprocess in json.loads(sys.argv[1]):
    for attempt in range(5):
        try:
            _create_backfill(dag_id=dag_id, from_date=datetime.fromisoformat(first).replace(tzinfo=timezone.utc),
                             to_date=datetime.fromisoformat(last).replace(tzinfo=timezone.utc),
                             max_active_runs=max_active_runs, reverse=False, dag_run_conf=None,
                             triggering_user_name="e2e", reprocess_behavior=reprocess and ReprocessBehavior(reprocess))
            break
        except OperationalError as error:
            if "database is locked" not in str(error) or attempt == 4:
                raise
            time.sleep(3)
"""


def _create_backfills(home: AirflowHome, backfills: list[tuple[str, str, str, int, str | None]]) -> None:
    """What ``airflow backfill create`` does, for several DAGs in one process: one interpreter start-up (about
    10 s on a loaded 2-core machine) instead of nine; SQLite's write lock taken up front, as beside the scheduler."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", CREATE_BACKFILLS, json.dumps(backfills)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**home.env, "E2E_SQLITE_BEGIN_IMMEDIATE": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]


def _backfill_runs(server: AirflowServer, dag_id: str) -> list[dict]:
    """Waits for the DAG's backfill; returns its backfill runs, all of which must have succeeded."""
    server.wait_for_backfills(dag_id)
    deadline = time.monotonic() + 300
    while True:
        runs = [r for r in server.runs(dag_id) if r["run_type"] == "backfill"]
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, f"backfill runs of {dag_id} did not finish: {runs}"
        time.sleep(2)
    assert {r["state"] for r in runs} == {"success"}, [(r["dag_run_id"], r["state"]) for r in runs]
    return runs


def _files(lake: Path, dag_id: str) -> dict[str, bytes]:
    written = files(lake / dag_id)
    assert_no_temporary(written)
    return {Path(name).parent.name[len("date=") :]: data for name, data in written.items()}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local_day(day: str, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(day).replace(tzinfo=tz)
    return start.astimezone(UTC), (start + DAY).astimezone(UTC)  # wall-clock day: 23, 24 or 25 h


def _check_exact(
    stack: dict[str, Any], dag_id: str, zone: str, partition_by: str, intervals: list[tuple[datetime, datetime]]
) -> int:
    """Every file holds exactly its partition's records, and the span holds every record once."""
    tz = ZoneInfo(zone)
    span = min(s for s, _ in intervals), max(e for _, e in intervals)
    files = {
        day: jsonl(data)
        for day, data in _files(stack["lake"], dag_id).items()
        if span[0].astimezone(tz).date().isoformat() <= day < span[1].astimezone(tz).date().isoformat()
    }
    if partition_by == "day":
        parts = {day: _local_day(day, zone) for day in files}
    else:
        parts = {s.astimezone(tz).date().isoformat(): (s, e) for s, e in intervals}
    assert sorted(files) == sorted(parts), f"{dag_id}: files {sorted(files)} for partitions {sorted(parts)}"
    for day, (start, end) in parts.items():
        assert files[day] == expected(stack["plain"], start, end), f"{dag_id} {day} differs from the sandbox"
    everything = Counter(json.dumps(r, sort_keys=True) for rows in files.values() for r in rows)
    assert everything == Counter(json.dumps(r, sort_keys=True) for r in expected(stack["plain"], *span))
    return sum(everything.values())


def _local_midnights(zone: str, start: datetime, end: datetime) -> list[datetime]:
    day = start.astimezone(ZoneInfo(zone)).date()
    out = []
    while (midnight := datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)) < end:
        out.append(midnight)
        day += DAY
    return out


def _intervals(server: AirflowServer, dag_id: str) -> list[tuple[datetime, datetime]]:
    runs = _backfill_runs(server, dag_id)
    return sorted((_when(r["data_interval_start"]), _when(r["data_interval_end"])) for r in runs)


@pytest.mark.parametrize("dag_id,zone,partition_by", SCHEDULES)
def test_consecutive_runs_leave_every_record_once(stack, dag_id: str, zone: str, partition_by: str) -> None:
    intervals = _intervals(stack["server"], dag_id)
    # the backfill's dates are UTC midnights: the local midnights between them start the runs
    first, last = (datetime.fromisoformat(d).replace(tzinfo=UTC) for d in SPANS.get(zone, SHORT))
    assert [s for s, _ in intervals] == [
        d for d in _local_midnights(zone, first - DAY, last + DAY) if first <= d <= last
    ]
    assert all(a[1] == b[0] for a, b in pairwise(intervals))  # consecutive
    lengths = {(e - s) / timedelta(hours=1) for s, e in intervals}
    assert lengths == ({24, 25} if zone == "America/New_York" else {24})  # the New York week crosses DST
    records = _check_exact(stack, dag_id, zone, partition_by, intervals)
    REPORT[dag_id] = {"runs": len(intervals), "records": records}


def test_a_rerun_rewrites_only_its_own_files_byte_for_byte(stack) -> None:
    server, home = stack["server"], stack["home"]
    started = time.monotonic()
    before = {dag_id: _files(stack["lake"], dag_id) for dag_id, _, _ in SCHEDULES}
    # (`airflow tasks clear --dag-regex` fails in Airflow 3.3: "'DAG' object has no attribute 'clear'")
    _create_backfills(home, [(dag_id, *RERUN, 4, "completed") for dag_id, _, _ in SCHEDULES])
    rerun = {dag_id: _wait_for_rerun(server, dag_id) for dag_id, _, _ in SCHEDULES}
    for dag_id, zone, partition_by in SCHEDULES:
        assert _files(stack["lake"], dag_id) == before[dag_id], f"{dag_id}: the re-run changed the files"
        _check_exact(stack, dag_id, zone, partition_by, _intervals(server, dag_id))
    REPORT["re-run"] = {"runs": rerun, "seconds": round(time.monotonic() - started, 1)}


def _wait_for_rerun(server: AirflowServer, dag_id: str, timeout: float = 300) -> str:
    """The one cleared run of the DAG, once its task succeeded on a second try."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tries = {}
        for run in server.runs(dag_id):
            tis = server.get(f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
            (ti,) = tis  # one task per DAG
            tries[run["dag_run_id"]] = (ti["try_number"], ti["state"])
        again = {run_id: state for run_id, (number, state) in tries.items() if number > 1}
        if len(again) == 1 and set(again.values()) == {"success"}:
            return next(iter(again))
        assert len(again) <= 1, f"{dag_id}: more than one run was cleared: {again}"
        time.sleep(2)
    raise AssertionError(f"the re-run of {dag_id} did not finish: {tries}")


def test_partitioned_backfill_writes_exact_local_day_files(stack) -> None:
    server, home = stack["server"], stack["home"]
    runs = _backfill_runs(server, "cal_partitioned")
    keys = sorted(r["partition_key"] for r in runs)
    assert len(keys) == 4 and all(r["data_interval_start"] is None for r in runs), runs
    days = [k[:10] for k in keys]
    assert days == [(datetime.fromisoformat(SHORT[0]) + i * DAY).date().isoformat() for i in range(4)]
    files = _files(stack["lake"], "cal_partitioned")
    for day in days:
        assert jsonl(files[day]) == expected(stack["plain"], *_local_day(day, "Asia/Hong_Kong")), day
    backfill = {r["dag_run_id"] for r in runs}
    events = [
        (key, extra)
        for key, extra, run_id in home.query(
            "select partition_key, extra, source_run_id from asset_event where source_dag_id = ?", "cal_partitioned"
        )
        if run_id in backfill
    ]
    assert sorted(key for key, _ in events) == keys
    assert all(json.loads(extra)["partition_key"] == key for key, extra in events)
    REPORT["cal_partitioned"] = {"runs": len(runs)}


def test_lookback_converges_and_runs_without_it_lose_records(stack) -> None:
    server, revising = stack["server"], stack["revising"]
    results = {}
    for dag_id in ("cal_lookback", "cal_no_lookback"):
        runs = _backfill_runs(server, dag_id)
        ends = sorted(_when(r["data_interval_end"]) for r in runs)
        assert len(ends) == 10
        files = {
            day: jsonl(data) for day, data in _files(stack["lake"], dag_id).items() if day < ends[-1].date().isoformat()
        }
        # the sandbox answered each run with the view an hour after its interval ended; a day's last reader decides
        reach = 3 if dag_id == "cal_lookback" else 0
        last_view = {}
        for end in ends:
            for k in range(1, reach + 2):
                last_view[(end - k * DAY).date().isoformat()] = int(end.timestamp()) + HOUR
        assert sorted(files) == sorted(last_view)
        settled = wrong = 0
        for day, as_of in last_view.items():
            start, end = _local_day(day, "UTC")
            assert files[day] == expected(revising, start, end, as_of), f"{dag_id} {day}: not the view it read"
            converged = expected(revising, start, end)
            settled += expected(revising, start, end, as_of) == converged
            wrong += files[day] != converged
        results[dag_id] = {
            "days": len(files),
            "days read after they settled": settled,
            "days unlike the converged history": wrong,
        }
        if dag_id == "cal_lookback":
            assert settled >= 9 and all(
                files[d] == expected(revising, *_local_day(d, "UTC"))
                for d, a in last_view.items()
                if expected(revising, *_local_day(d, "UTC"), a) == expected(revising, *_local_day(d, "UTC"))
            )
        else:
            assert wrong >= 5, "without lookback the late postings and provisional dividends should stay wrong"
    manifests = stack["home"].xcom("cal_lookback", "extract")
    rewritten = [c for m in manifests for c in m.get("rewritten", [])]
    assert rewritten and sum(c["gained"] + c["lost"] for c in rewritten) > 0
    REPORT["lookback"] = {
        **results,
        "gained": sum(c["gained"] for c in rewritten),
        "lost": sum(c["lost"] for c in rewritten),
    }
