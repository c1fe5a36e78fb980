"""Day partitions in the account's time zone, partitioned runs, lookback: the operator without a metadata DB.

The same guarantees under real Airflow processes are in tests/e2e/test_e2e_calendar.py.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk import CronDataIntervalTimetable, CronPartitionTimetable
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.sandbox import (
    Dataset,
    Sandbox,
)
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, HOUR, REVISING, UNLIMITED, expected, expected_rows, raw
from tests.helpers.lake import jsonl_by_folder
from tests.helpers.operator import run_operator

HK = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")


def _local_midnight(year: int, month: int, day: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def test_new_york_days_are_23_and_25_hours_long_across_dst() -> None:
    spring = Window.of(_local_midnight(2026, 3, 7, NY), _local_midnight(2026, 3, 10, NY))
    fall = Window.of(_local_midnight(2026, 10, 31, NY), _local_midnight(2026, 11, 3, NY))

    def hours(window: Window) -> list[float]:
        return [(d.end - d.start) / timedelta(hours=1) for d in reversed(list(window.days(NY)))]

    assert hours(spring) == [24, 23, 24] and hours(fall) == [24, 25, 24]
    assert all(d.start.astimezone(NY).hour == 0 for d in fall.days(NY))


def test_hong_kong_schedule_with_day_partitions_keeps_every_record_once(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    first = _local_midnight(2026, 11, 12, HK)
    for i in (0, 1, 2, 1):  # three consecutive runs, then the middle one again
        manifest, _, _ = run_operator(
            first + i * DAY,
            first + (i + 1) * DAY,
            schedule=schedule,
            output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl",
            partition_by="day",
        )
        assert manifest["partition_timezone"] == "Asia/Hong_Kong" and len(manifest["files"]) == 1
    files = jsonl_by_folder(tmp_path)
    assert sorted(files) == ["date=2026-11-12", "date=2026-11-13", "date=2026-11-14"]  # Hong Kong dates
    for i, day in enumerate(sorted(files)):
        want = expected(sandbox, first + i * DAY, first + (i + 1) * DAY)
        assert files[day] == want and want
    written = sum(len(rows) for rows in files.values())
    assert written == len(raw(sandbox, first, first + 3 * DAY))


def test_a_window_that_splits_a_day_is_refused_before_any_call(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    start = _local_midnight(2026, 11, 12, HK)
    with pytest.raises(AirflowFailException, match=r"partition_timezone='UTC'.*Asia/Hong_Kong"):
        run_operator(
            start,
            start + DAY,
            schedule=schedule,
            partition_timezone="UTC",
            partition_by="day",
            output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl",
        )
    hourly = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
    with pytest.raises(AirflowFailException, match=r"same date.*partition_by='day'"):
        run_operator(
            END - DAY,
            END - DAY + timedelta(hours=1),
            schedule=hourly,
            output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl",
        )
    # a literal zone is judged as the DAG file is parsed: building the operator fails
    with pytest.raises(LongPortConfigError, match=r"partition_timezone='Mars/Olympus' is not an IANA"):
        run_operator(END - DAY, END, partition_timezone="Mars/Olympus", output_path=f"file://{tmp_path}/x.jsonl")
    assert sandbox.state.snapshot()["calls"] == 0
    assert not list(tmp_path.rglob("*.jsonl"))


def test_utc_partitions_of_a_hong_kong_schedule_are_accepted_as_whole_intervals(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    schedule = CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    first = _local_midnight(2026, 11, 12, HK)
    for i in range(2):  # interval files named by the UTC date each run starts on: distinct, so nothing is lost
        run_operator(
            first + i * DAY,
            first + (i + 1) * DAY,
            schedule=schedule,
            partition_timezone="UTC",
            output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl",
        )
    files = jsonl_by_folder(tmp_path)
    assert sorted(files) == ["date=2026-11-11", "date=2026-11-12"]
    assert [r for day in sorted(files) for r in reversed(files[day])] == list(
        reversed(expected(sandbox, first, first + 2 * DAY))
    )


def test_partitioned_run_reads_its_partition_period(sandbox: Sandbox, tmp_path: Path) -> None:
    schedule = CronPartitionTimetable("0 0 * * *", timezone="Asia/Hong_Kong")
    partition_date = _local_midnight(2026, 11, 13, HK)
    manifest, context, _ = run_operator(
        None,
        None,
        schedule=schedule,
        partition_by="day",
        extra_context={"partition_date": partition_date, "partition_key": "2026-11-13T00:00:00"},
        output_path=f"file://{tmp_path}/date={{date}}/cashflow.jsonl",
    )
    assert manifest["interval"] == {"start": partition_date.isoformat(), "end": (partition_date + DAY).isoformat()}
    assert jsonl_by_folder(tmp_path) == {"date=2026-11-13": expected(sandbox, partition_date, partition_date + DAY)}
    (event,) = context["outlet_events"]._dict.values()
    assert event.extra["partition_key"] == "2026-11-13T00:00:00"


def test_lookback_needs_day_partitions_and_is_checked_before_any_call(sandbox: Sandbox, tmp_path: Path) -> None:
    # lookback is never a template: building the operator (parsing the DAG file) fails
    with pytest.raises(LongPortConfigError, match=r"lookback=3 .*partition_by='day'"):
        run_operator(END - DAY, END, lookback=3, output_path=f"file://{tmp_path}/x.jsonl")
    with pytest.raises(LongPortConfigError, match=r"lookback must be a timedelta or a whole number of days"):
        run_operator(
            END - DAY, END, lookback="three", partition_by="day", output_path=f"file://{tmp_path}/{{date}}.jsonl"
        )
    assert sandbox.state.snapshot()["calls"] == 0


def _daily_runs(root: Path, lookback: int | None, dataset: Dataset) -> tuple[list[dict], dict[str, int]]:
    """Ten daily UTC runs, each seeing the history as it was an hour after its interval ended."""
    manifests = []
    last_read: dict[str, int] = {}  # day -> the as-of of the last run that read it
    for i in range(10):
        start = END - (11 - i) * DAY
        manifest, _, _ = run_operator(
            start,
            start + DAY,
            output_path=f"file://{root}/date={{date}}/cashflow.jsonl",
            partition_by="day",
            lookback=lookback,
            page_size=50,
        )
        manifests.append(manifest)
        for part in manifest["files"]:
            last_read[part["path"].split("date=")[1][:10]] = int((start + DAY).timestamp()) + HOUR
    return manifests, last_read


def test_lookback_converges_to_the_latest_view_and_no_lookback_loses_records(tmp_path: Path, monkeypatch) -> None:
    dataset = Dataset(REVISING)
    with Sandbox(dataset, rate_limit=False, as_of_after_request=HOUR) as server:
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=2))
        manifests, last_read = _daily_runs(tmp_path / "lookback", 3, dataset)
        # a new series of runs, some asking the same start_time as a lookback run did: each must see its own view
        server.control(as_of_after_request=HOUR)
        _daily_runs(tmp_path / "plain", None, dataset)
    with_lookback, plain = jsonl_by_folder(tmp_path / "lookback"), jsonl_by_folder(tmp_path / "plain")
    settled = 0
    for day, as_of in last_read.items():
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        bounds = int(start.timestamp()), int((start + DAY).timestamp())
        assert with_lookback[f"date={day}"] == expected_rows(
            dataset.window(*bounds, as_of=as_of)
        )  # the last view, exactly
        if list(dataset.window(*bounds, as_of=as_of)) == list(dataset.window(*bounds)):
            settled += 1
            assert with_lookback[f"date={day}"] == expected_rows(dataset.window(*bounds))  # converged history
    assert settled >= 8, "most days must have been re-read after their revisions settled"
    lost = [
        day
        for day in plain
        if plain[day]
        != expected_rows(
            dataset.window(
                *(int((datetime.fromisoformat(day[5:]).replace(tzinfo=UTC) + k * DAY).timestamp()) for k in (0, 1))
            )
        )
    ]
    assert len(lost) >= 5, "without lookback, late postings and provisional dividends stay wrong"

    # the manifest says what each rewrite changed, against the file it replaced (multisets)
    for i in range(1, 10):
        for change in manifests[i]["rewritten"]:
            if not change["replaced"]:
                continue
            start = datetime.fromisoformat(change["date"]).replace(tzinfo=UTC)
            bounds = int(start.timestamp()), int((start + DAY).timestamp())
            run_end = int((END - (10 - i) * DAY).timestamp())
            before = Counter(
                json.dumps(r, sort_keys=True) for r in dataset.window(*bounds, as_of=run_end - DAY.days * 86400 + HOUR)
            )
            after = Counter(json.dumps(r, sort_keys=True) for r in dataset.window(*bounds, as_of=run_end + HOUR))
            assert (change["gained"], change["lost"]) == (
                sum((after - before).values()),
                sum((before - after).values()),
            )
            assert change["records"] == sum(after.values())
    assert sum(c["gained"] + c["lost"] for m in manifests for c in m["rewritten"]) > 0
    # the wider window is still one paged stream: no call per day
    for manifest in manifests:
        assert manifest["api_calls"] == manifest["records"] // 50 + 1


@pytest.mark.parametrize(
    "file_format,compression", [("jsonl", "gzip"), ("csv", "none"), ("csv", "gzip"), ("parquet", "zstd")]
)
def test_lookback_reads_every_format_back_to_compare(
    sandbox: Sandbox, tmp_path: Path, file_format: str, compression: str
) -> None:
    """An unchanged history rewrites each day with nothing gained or lost, whatever the format read back."""
    kwargs = dict(
        output_path=f"file://{tmp_path}/date={{date}}/cashflow.{file_format}",
        partition_by="day",
        lookback=2,
        file_format=file_format,
        compression=compression,
    )
    first, _, _ = run_operator(END - 2 * DAY, END - DAY, **kwargs)
    assert [c["replaced"] for c in first["rewritten"]] == [False, False, False]
    second, context, _ = run_operator(END - DAY, END, **kwargs)
    changes = second["rewritten"]
    assert [c["replaced"] for c in changes] == [True, True, False] and all(c["records"] for c in changes)
    assert [(c["gained"], c["lost"]) for c in changes[:2]] == [(0, 0), (0, 0)]
    assert changes[2]["gained"] == changes[2]["records"] and changes[2]["lost"] == 0
    (event,) = context["outlet_events"]._dict.values()
    assert event.extra["rewritten"] == changes
