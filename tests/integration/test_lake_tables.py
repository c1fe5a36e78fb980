"""Lake tables (``table=``): Iceberg and Delta, each run one commit of its account's window, read back with DuckDB
as an analyst reads them and compared with the sandbox's truth. The operator runs in-process (no metadata DB)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.domain.models import parse_cash_flow
from airflow_provider_cashflow.domain.us_transactions import parse_us_transaction, to_cash_flow
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.sandbox import Dataset, DriftSpec, Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, HOUR, REVISING, UNLIMITED, day_bounds, expected, expected_rows
from tests.helpers.operator import run_operator
from tests.helpers.tables import duck, normalised, rows_by_day, same_rows, scan, sqlite_catalog

FORMATS = ["iceberg", "delta"]


def table_of(table_format: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh table of the format under ``root``: Iceberg in an embedded SQLite catalog, Delta in a folder."""
    if table_format == "iceberg":
        set_connection(monkeypatch, "iceberg_default", sqlite_catalog(root / "catalog"))
        return "iceberg:cashflow.flows"
    return f"delta:{(root / 'delta' / 'flows').as_uri()}"


def source(manifest: dict[str, Any]) -> str:
    """The DuckDB scan of the table as the run's commit left it."""
    table = manifest["table"]
    return scan(table["format"], table["metadata_location"] if table["format"] == "iceberg" else table["location"])


def state(manifest: dict[str, Any], account: str = "longport_default") -> dict[str, list[dict[str, Any]]]:
    with duck() as con:
        return rows_by_day(con, source(manifest), account)


@pytest.mark.parametrize("table_format", FORMATS)
def test_daily_runs_with_lookback_leave_each_day_exact_and_a_rerun_changes_no_row(
    table_format: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six daily runs, each seeing the history an hour after its interval, lookback=2: each day holds exactly the
    last view of it; a rerun commits again and leaves every row as it was."""
    dataset = Dataset(REVISING)
    table = table_of(table_format, tmp_path, monkeypatch)
    last_read: dict[str, int] = {}
    manifests = []
    with Sandbox(dataset, rate_limit=False, as_of_after_request=HOUR) as server:
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=2))
        for i in range(6):
            start = END - (7 - i) * DAY
            manifest, context, _ = run_operator(start, start + DAY, table=table, lookback=2, page_size=50)
            manifests.append(manifest)
            for k in range(3):
                last_read[(start - k * DAY).date().isoformat()] = int((start + DAY).timestamp()) + HOUR
        days = state(manifests[-1])
        assert sorted(days) == sorted(last_read)
        for day, as_of in last_read.items():
            assert same_rows(days[day], expected_rows(dataset.window(*_seconds(day), as_of=as_of))), day
        # the late postings and settled dividends reached the table: some day differs from its first view
        first_views = {
            day: expected(dataset, *day_bounds(day), int(day_bounds(day)[1].timestamp()) + HOUR) for day in days
        }
        assert any(not same_rows(days[d], first_views[d]) for d in days)

        # the rerun of the last run: a new commit, the same rows
        server.control(as_of_after_request=HOUR)
        again, _, _ = run_operator(END - 2 * DAY, END - DAY, table=table, lookback=2, page_size=50)
    assert _sorted(state(again)) == _sorted(days)
    commit, previous = again["table"], manifests[-1]["table"]
    if table_format == "iceberg":
        assert commit["snapshot_id"] != previous["snapshot_id"]
        assert commit["previous_snapshot_id"] == previous["snapshot_id"]
    else:
        assert (commit["version"], commit["previous_version"]) == (previous["version"] + 1, previous["version"])
    # the manifest and the asset event name the table and the commit
    assert manifests[0]["table"]["format"] == table_format and manifests[0]["records"] > 0
    assert manifests[-1]["interval"]["start"] == (END - 4 * DAY).isoformat()  # widened by the lookback
    (event,) = context["outlet_events"]._dict.values()
    assert event.extra["table"] == manifests[-1]["table"] and event.extra["records"] == manifests[-1]["records"]


def _sorted(days: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Rows of one second come in no fixed order from a table scan: sorted, each day compares as a multiset."""
    return {day: normalised(rows) for day, rows in days.items()}


def _seconds(day: str) -> tuple[int, int]:
    start, end = day_bounds(day)
    return int(start.timestamp()), int(end.timestamp())


@pytest.mark.parametrize("table_format", FORMATS)
def test_each_day_is_exact_while_the_history_changes_during_the_run(
    table_format: str, dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Postings and cancellations after every page: every record that existed throughout lands once, none twice."""
    table = table_of(table_format, tmp_path, monkeypatch)
    drift = DriftSpec(postings=1, cancellations=1, seed=3)
    with Sandbox(dataset, rate_limit=False, drift=drift) as server:
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=2))
        mark = server.mark()
        manifest, _, _ = run_operator(END - 3 * DAY, END, table=table, page_size=7)
        days = state(manifest)
        assert manifest["api_calls"] > 10  # many pages, each followed by a change
        for day in days:
            truth = server.drift_truth(*_seconds(day), after=mark)
            got = [_frozen(row) for row in days[day]]
            assert truth.problems(got, key=lambda r: _frozen(parse_cash_flow(r).to_dict())) == {}, day
        assert sum(len(rows) for rows in days.values()) == manifest["records"]


def _frozen(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted(normalised([row])[0].items()))


@pytest.mark.parametrize("table_format", FORMATS)
def test_time_travel_reads_the_table_as_the_previous_run_left_it(
    table_format: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLARS_ICEBERG_PLANNER", "pyiceberg")  # the planner pyiceberg installs; no plugin wanted
    table = table_of(table_format, tmp_path, monkeypatch)
    first, _, _ = run_operator(END - 2 * DAY, END - DAY, table=table)
    second, _, _ = run_operator(END - DAY, END, table=table)
    import polars as pl

    if table_format == "iceberg":
        from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

        flows = IcebergHook().load_table("cashflow.flows")
        before = flows.scan(snapshot_id=second["table"]["previous_snapshot_id"]).to_arrow()
        now = pl.scan_iceberg(flows).collect()
    else:
        before = pl.scan_delta(second["table"]["location"], version=second["table"]["previous_version"]).collect()
        now = pl.scan_delta(second["table"]["location"]).collect()
    assert sorted(set(before["date"].to_pylist() if hasattr(before["date"], "to_pylist") else before["date"])) == [
        (END - 2 * DAY).date()
    ]
    assert len(before) == first["records"] and len(now) == first["records"] + second["records"]


@pytest.mark.parametrize("table_format", FORMATS)
def test_an_empty_window_replaces_the_days_with_nothing(
    table_format: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_of(table_format, tmp_path, monkeypatch)
    full, _, _ = run_operator(END - DAY, END, table=table)
    assert full["records"] == 28
    # the same days again, filtered to a symbol nobody traded: the account's rows of those days are replaced by none
    empty, _, _ = run_operator(END - DAY, END, table=table, symbol="NONE.US")
    assert empty["records"] == 0 and state(empty) == {}


def test_every_column_is_typed_for_a_reader(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    iceberg, _, _ = run_operator(END - DAY, END, table=table_of("iceberg", tmp_path, monkeypatch))
    delta, _, _ = run_operator(END - DAY, END, table=table_of("delta", tmp_path, monkeypatch))
    with duck() as con:
        for manifest in (iceberg, delta):
            types = dict(con.execute(f"DESCRIBE SELECT * FROM {source(manifest)}").fetchall()[i][:2] for i in range(10))
            assert types == {
                "transaction_flow_name": "VARCHAR",
                "direction": "INTEGER",
                "business_type": "INTEGER",
                "balance": "DECIMAL(38,12)",
                "currency": "VARCHAR",
                "business_time": "TIMESTAMP WITH TIME ZONE",
                "symbol": "VARCHAR",
                "description": "VARCHAR",
                "account": "VARCHAR",
                "date": "DATE",
            }
            (net,) = con.execute(f"SELECT sum(balance)::VARCHAR FROM {source(manifest)}").fetchone()
            want = sum(Decimal(r["balance"]) for r in expected(sandbox, END - DAY, END))
            assert Decimal(net) == want


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"table": "parquet:cashflow.flows"}, r"table format must be one of iceberg, delta"),
        ({"table": "cashflow.flows"}, r"table must be '<format>:<table>'"),
        ({"table": "iceberg:flows"}, r"'<namespace>.<table>'"),
        ({"table": "delta:/data/lake"}, r"named by its URL"),
        ({"table": "delta:file:///lake/{conn_id}"}, r"no placeholder"),
        ({"table": "iceberg:cashflow.{conn_id}"}, r"no placeholder"),
        ({"table": "iceberg:cashflow.flows", "output_path": "file:///x/{date}.jsonl"}, r"two targets: give one"),
    ],
)
def test_a_wrong_table_fails_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LongPortConfigError, match=message):
        run_operator(END - DAY, END, **kwargs)


def test_a_table_run_refuses_part_of_a_day_and_a_missing_catalog_before_any_call(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_of("delta", tmp_path, monkeypatch)
    with pytest.raises(AirflowFailException, match=r"replaces whole days of partition_timezone='UTC'"):
        run_operator(END - DAY, END - DAY / 24, table=table)
    with pytest.raises(AirflowFailException, match=r"connection 'iceberg_missing', which does not exist"):
        run_operator(END - DAY, END, table="iceberg:cashflow.flows", output_conn_id="iceberg_missing")
    # a table is always partitioned by day: saying so is no mistake
    manifest, _, _ = run_operator(END - DAY, END, table=table, partition_by="day", lookback=1)
    assert manifest["records"] > 0
    assert sandbox.state.snapshot()["calls"] == 1  # the last run's only


def test_a_lookback_without_day_files_is_fine_for_a_table(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _, _ = run_operator(END - DAY, END, table=table_of("delta", tmp_path, monkeypatch), lookback=1)
    assert sorted(state(manifest)) == ["2026-11-18", "2026-11-19"]
    assert Counter(json.dumps(r, sort_keys=True) for rows in state(manifest).values() for r in rows) == Counter(
        json.dumps(r, sort_keys=True) for r in normalised(expected(sandbox, END - 2 * DAY, END))
    )
    assert datetime.fromisoformat(manifest["interval"]["start"]) == END - 2 * DAY
    assert manifest["interval"]["start"].endswith("+00:00") and UTC


@pytest.mark.parametrize("table_format", FORMATS)
def test_ap_and_us_accounts_share_one_table_and_native_us_columns_take_their_own(
    table_format: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "longport_us", sandbox.connection(us=True, **UNLIMITED, timeout=5))
    table = table_of(table_format, tmp_path, monkeypatch)
    start, end = (datetime(2026, 11, d, tzinfo=NEW_YORK).astimezone(UTC) for d in (17, 19))
    ap, _, _ = run_operator(start, end, table=table, partition_timezone="America/New_York")
    us, _, _ = run_operator(start, end, table=table, longport_conn_id="longport_us")  # New York days by default
    assert us["dc_region"] == "us" and us["partition_timezone"] == "America/New_York"
    with duck() as con:
        for account, truth in (("longport_default", _ap_truth), ("longport_us", _us_truth)):
            days = rows_by_day(con, source(us), account)
            assert sorted(days) == ["2026-11-17", "2026-11-18"], account
            for day, rows in days.items():
                assert rows and same_rows(rows, truth(sandbox, day)), (account, day)
    assert ap["records"] > 0

    # every key the US endpoint sends: not into the cash-flow table, into one of its own
    with pytest.raises(AirflowFailException, match=r"needs a table of its own"):
        run_operator(start, end, table=table, longport_conn_id="longport_us", us_columns="native")
    native = table.replace("flows", "us_native")
    manifest, _, _ = run_operator(start, end, table=native, longport_conn_id="longport_us", us_columns="native")
    with duck() as con:
        (count,) = con.execute(f"SELECT count(*) FROM {source(manifest)}").fetchone()
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source(manifest)}").fetchall()]
    assert count == manifest["records"] == us["records"]
    assert {"biz_code", "amount", "create_at", "done_at", "account", "date"} <= set(columns)


NEW_YORK = ZoneInfo("America/New_York")


def _ny_day(day: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(day).replace(tzinfo=NEW_YORK)
    return start.astimezone(UTC), (start + DAY).astimezone(UTC)


def _ap_truth(sandbox: Sandbox, day: str) -> list[dict[str, Any]]:
    return expected(sandbox, *_ny_day(day))


def _us_truth(sandbox: Sandbox, day: str) -> list[dict[str, Any]]:
    start, end = _ny_day(day)
    rows = sandbox.us_records(int(start.timestamp()), int(end.timestamp()))
    return [to_cash_flow(parse_us_transaction(r), sandbox.us_dataset.time_field).to_dict() for r in rows]


@pytest.mark.parametrize("table_format", FORMATS)
def test_openlineage_names_the_table_and_the_commit(
    table_format: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _, op = run_operator(END - DAY, END, table=table_of(table_format, tmp_path, monkeypatch))
    lineage = op.get_openlineage_facets_on_complete(None)
    (output,) = lineage.outputs
    table = manifest["table"]
    assert f"{output.namespace}{output.name}" == table["location"]
    version = table["snapshot_id"] if table_format == "iceberg" else table["version"]
    assert output.facets["version"].datasetVersion == str(version)
    if table_format == "iceberg":
        (name,) = output.facets["symlinks"].identifiers
        assert (name.namespace, name.name) == ("iceberg://iceberg_default", "cashflow.flows")
    assert [d.name for d in lineage.inputs] == ["/v1/asset/cashflow"]


@pytest.mark.parametrize("table_format", FORMATS)
def test_a_run_that_fails_half_way_commits_nothing(
    table_format: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_of(table_format, tmp_path, monkeypatch)
    first, _, _ = run_operator(END - DAY, END, table=table)
    before = state(first)
    # three pages read, then a page the parser refuses (a record without its currency): no retry cures it
    sandbox.control(faults={"fail_after_pages": 3, "fail_kind": "missing_field"})
    with pytest.raises(AirflowFailException, match=r"currency"):
        run_operator(END - DAY, END, table=table, lookback=3, page_size=7)
    sandbox.control(faults={})
    assert _sorted(state(first)) == _sorted(before)  # the table as the first run left it: nothing else committed
    if table_format == "iceberg":
        from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

        assert (
            IcebergHook().load_table("cashflow.flows").current_snapshot().snapshot_id == first["table"]["snapshot_id"]
        )
    else:
        from deltalake import DeltaTable

        assert DeltaTable(first["table"]["location"]).version() == first["table"]["version"]


def test_a_templated_table_is_checked_when_the_run_renders_it(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_of("delta", tmp_path, monkeypatch)
    manifest, _, op = run_operator(
        END - DAY, END, table="{{ params.table }}", extra_context={"params": {"table": table}}
    )
    assert manifest["table"]["location"] == table[len("delta:") :] and op.outlets == []
    with pytest.raises(AirflowFailException, match=r"table format must be one of iceberg, delta"):
        run_operator(END - DAY, END, table="{{ params.table }}", extra_context={"params": {"table": "hudi:x.y"}})
    assert sandbox.state.snapshot()["calls"] == 1


def test_a_schedule_whose_runs_are_not_whole_days_fails_when_the_dag_is_parsed() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    utc_midnight = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
    with pytest.raises(LongPortConfigError, match=r"replaces whole days of partition_timezone='Asia/Hong_Kong'"):
        run_operator(
            END - DAY, END, schedule=utc_midnight, table="delta:file:///lake/t", partition_timezone="Asia/Hong_Kong"
        )
    hourly = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
    with pytest.raises(LongPortConfigError, match=r"does not start and end at midnight"):
        run_operator(END - DAY, END, schedule=hourly, table="iceberg:cashflow.flows")


def test_a_writer_that_loses_the_race_to_create_the_namespace_and_table_uses_the_winner_s(tmp_path: Path) -> None:
    """Four writers on PostgreSQL once met the SQL catalog's unique key instead of its "already exists": pyiceberg
    looks, another writer inserts, its own insert fails. Played here in order, on a real SQLite catalog."""
    from pyiceberg.catalog.sql import SqlCatalog
    from sqlalchemy.exc import IntegrityError

    from airflow_provider_cashflow.output.iceberg_table import load_or_create
    from airflow_provider_cashflow.output.tables import arrow_schema

    cat = SqlCatalog("race", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=tmp_path.as_uri())
    winner = load_or_create(cat, "cashflow.flows", arrow_schema())  # the other writer, first

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key value violates unique constraint"))

    cat.create_namespace_if_not_exists = lost  # type: ignore[method-assign]
    cat.create_table_if_not_exists = lost  # type: ignore[method-assign]
    table = load_or_create(cat, "cashflow.flows", arrow_schema())
    assert table.metadata_location == winner.metadata_location
    with pytest.raises(IntegrityError):  # a failure that is no race still fails
        load_or_create(cat, "other.flows", arrow_schema())
