"""CashflowOperator without a metadata DB: hand-built context, AIRFLOW_CONN_* env vars, sandbox, file://."""

from __future__ import annotations

import sys

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.errors import LongPortAPIError
from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected, raw
from tests.helpers.lake import normalised, read_records
from tests.helpers.operator import run_operator

FORMATS = [
    ("jsonl", "none"),
    ("jsonl", "gzip"),
    ("csv", "none"),
    ("csv", "gzip"),
    ("parquet", "none"),
    ("parquet", "snappy"),
    ("parquet", "gzip"),
    ("parquet", "zstd"),
]


def test_xcom_target_returns_the_interval_as_dicts(sandbox: Sandbox) -> None:
    result, _, _ = run_operator(END - 2 * DAY, END)
    assert result == expected(sandbox, END - 2 * DAY, END)
    assert result and all(isinstance(r["balance"], str) for r in result)


def test_xcom_size_guard_fails_early_and_points_to_object_storage(sandbox: Sandbox) -> None:
    with pytest.raises(AirflowFailException, match=r"max_xcom_bytes=2000.*output_path.*XComObjectStorageBackend"):
        run_operator(END - 9 * DAY, END, max_xcom_bytes=2000, page_size=20)
    assert (
        sandbox.state.snapshot()["pages_served"] <= 3
    )  # stopped as soon as the guard tripped (reading ahead is bounded)


@pytest.mark.parametrize("file_format,compression", FORMATS)
def test_every_format_and_compression_round_trips_and_reruns_byte_identical(
    sandbox, tmp_path, file_format, compression
) -> None:
    start, end = END - 2 * DAY, END
    target = tmp_path / f"out.{file_format}"
    kwargs = dict(output_path=f"file://{target}", file_format=file_format, compression=compression, page_size=30)
    manifest, _, _ = run_operator(start, end, **kwargs)
    first = target.read_bytes()
    want = expected(sandbox, start, end)
    assert normalised(read_records(target, file_format, compression)) == normalised(want)
    assert manifest["records"] == len(want) and manifest["files"][0]["bytes"] == len(first)
    assert manifest["format"] == file_format and manifest["compression"] == compression
    if compression == "gzip" and file_format != "parquet":
        assert first[:2] == b"\x1f\x8b"
    run_operator(start, end, **{**kwargs, "page_size": 7})  # fetched differently, written the same
    assert target.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary file left


def test_parquet_has_a_real_schema(sandbox, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = tmp_path / "x.parquet"
    run_operator(END - DAY, END, output_path=f"file://{target}", file_format="parquet")
    schema = pq.read_schema(target)
    assert pa.types.is_decimal(schema.field("balance").type)
    assert schema.field("business_time").type == pa.timestamp("ms", tz="UTC")
    assert pa.types.is_integer(schema.field("direction").type) and schema.field("direction").type.bit_width <= 16


@pytest.mark.parametrize(
    "file_format,compression", [("jsonl", "none"), ("jsonl", "gzip"), ("csv", "none"), ("parquet", "snappy")]
)
def test_empty_interval_writes_a_valid_empty_file(sandbox, tmp_path, file_format, compression) -> None:
    target = tmp_path / f"empty.{file_format}"
    old = END - 30 * DAY  # before the sandbox's data
    manifest, _, _ = run_operator(
        old, old + DAY, output_path=f"file://{target}", file_format=file_format, compression=compression
    )
    assert manifest["records"] == 0 and len(manifest["files"]) == 1
    assert read_records(target, file_format, compression) == []
    if file_format == "csv":
        assert target.read_text().startswith("transaction_flow_name,direction")


def test_empty_interval_without_write_empty_leaves_no_file(sandbox, tmp_path) -> None:
    target = tmp_path / "empty.jsonl"
    target.write_text("stale rows of an earlier run\n")
    old = END - 30 * DAY
    manifest, _, _ = run_operator(old, old + DAY, output_path=f"file://{target}", write_empty=False)
    assert manifest["files"] == [] and not target.exists()


def test_a_month_in_one_run_writes_the_bytes_the_daily_runs_write_in_few_calls(sandbox, tmp_path) -> None:
    start, end = END - 9 * DAY, END
    month = tmp_path / "month"
    manifest, _, _ = run_operator(
        start,
        end,
        output_path=f"file://{month}/date={{date}}/cashflow.parquet",
        file_format="parquet",
        partition_by="day",
    )
    total = len(raw(sandbox, start, end))
    assert manifest["api_calls"] == total // 10000 + 1 == 1
    assert [f["start"][:10] for f in manifest["files"]] == [(start + i * DAY).date().isoformat() for i in range(9)]
    daily = tmp_path / "daily"
    for i in range(9):
        run_operator(
            start + i * DAY,
            start + (i + 1) * DAY,
            output_path=f"file://{daily}/date={{date}}/cashflow.parquet",
            file_format="parquet",
        )
    month_files = sorted(p.relative_to(month) for p in month.rglob("*.parquet"))
    assert month_files == sorted(p.relative_to(daily) for p in daily.rglob("*.parquet")) and len(month_files) == 9
    for rel in month_files:
        assert (month / rel).read_bytes() == (daily / rel).read_bytes()


def test_windows_on_midnight_put_boundary_records_on_their_own_day(sandbox, tmp_path) -> None:
    start, end = END - 4 * DAY, END
    run_operator(start, end, output_path=f"file://{tmp_path}/{{date}}.jsonl", partition_by="day")
    boundary = 0
    for i in range(4):
        day = (start + i * DAY).date().isoformat()
        rows = read_records(tmp_path / f"{day}.jsonl", "jsonl", "none")
        assert rows == expected(sandbox, start + i * DAY, start + (i + 1) * DAY)
        assert all(r["business_time"][:10] == day for r in rows)
        boundary += sum(r["business_time"] == f"{day}T00:00:00Z" for r in rows)
    assert boundary > 0


def test_failure_mid_interval_keeps_the_previous_file_and_the_rerun_completes(sandbox, tmp_path, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, max_attempts=2))
    target = tmp_path / "cashflow.jsonl.gz"
    target.write_bytes(b"previous run's complete file")
    sandbox.state.faults.fail_after_pages = 2  # the server breaks after two pages and stays broken
    with pytest.raises(LongPortAPIError, match=r"500000.*retry later"):
        run_operator(END - 3 * DAY, END, output_path=f"file://{target}", compression="gzip", page_size=10)
    assert target.read_bytes() == b"previous run's complete file"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no partial or temporary file
    sandbox.state.faults.fail_after_pages = None  # the cause is gone
    manifest, _, _ = run_operator(END - 3 * DAY, END, output_path=f"file://{target}", compression="gzip", page_size=10)
    assert read_records(target, "jsonl", "gzip") == expected(sandbox, END - 3 * DAY, END)
    assert manifest["records"] > 20


def test_expired_token_mid_run_fails_clearly_and_writes_nothing_partial(sandbox, tmp_path) -> None:
    sandbox.state.expire_token_after = 3
    with pytest.raises(AirflowFailException, match=r"401003.*access_token") as info:
        run_operator(
            END - 4 * DAY,
            END,
            output_path=f"file://{tmp_path}/{{date}}.csv",
            file_format="csv",
            partition_by="day",
            page_size=10,
        )
    assert isinstance(info.value.__cause__, LongPortAPIError)  # no task retry for what only a person can fix
    written = sorted(p.name for p in tmp_path.iterdir())
    assert all(not name.startswith(".") for name in written)  # no temporary leftovers
    for name in written:  # the days finished before the failure are complete, exact files
        day_start = END.fromisoformat(name[:10] + "T00:00:00+00:00")
        assert read_records(tmp_path / name, "csv", "none") == expected(sandbox, day_start, day_start + DAY)


def test_asset_event_carries_the_record_count(sandbox, tmp_path) -> None:
    manifest, context, op = run_operator(END - DAY, END, output_path=f"file://{tmp_path}/d={{date}}/cf.jsonl")
    (asset,) = op.outlets
    assert asset.uri == f"file://{tmp_path}"
    assert context["outlet_events"][asset].extra["records"] == manifest["records"] > 0


def test_templated_fields_render(sandbox, tmp_path) -> None:
    manifest, _, _ = run_operator(
        None,
        None,
        output_path=f"file://{tmp_path}/{{{{ params.get('x', 'fixed') }}}}.jsonl",
        window_start=(END - DAY).isoformat(),
        window_end="{{ '" + END.isoformat() + "' }}",
        page_size="{{ 5 * 2 }}",
        business_type="{{ 2 }}",
    )
    assert manifest["files"][0]["path"].endswith("/fixed.jsonl")
    rows = read_records(tmp_path / "fixed.jsonl", "jsonl", "none")
    assert rows and all(r["business_type"] == 2 for r in rows)
    assert manifest["api_calls"] == len(rows) // 10 + 1


def test_openlineage_facets_name_input_and_outputs(sandbox, tmp_path, monkeypatch) -> None:
    _, _, op = run_operator(END - DAY, END, output_path=f"file://{tmp_path}/cf.jsonl")
    lineage = op.get_openlineage_facets_on_complete(None)
    assert (
        lineage.inputs[0].namespace.startswith("longport://127.0.0.1:")
        and lineage.inputs[0].name == "/v1/asset/cashflow"
    )
    assert lineage.outputs[0].name == f"{tmp_path}/cf.jsonl"
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)  # provider absent
    assert op.get_openlineage_facets_on_complete(None) is None


def test_missing_pyarrow_names_the_extra(sandbox, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(AirflowFailException, match=r"airflow-provider-cashflow\[parquet\]"):
        run_operator(END - DAY, END, output_path=f"file://{tmp_path}/x.parquet", file_format="parquet")
    assert sandbox.state.snapshot()["calls"] == 0


def test_a_balance_parquet_cannot_hold_fails_the_task_without_retries_and_leaves_no_file(
    sandbox, tmp_path, monkeypatch
) -> None:
    from airflow_provider_cashflow.errors import OutputFormatError
    from airflow_provider_cashflow.output import formats

    monkeypatch.setattr(formats, "PARQUET_BALANCE_SCALE", 0)  # the sandbox's cents no longer fit: a real Arrow refusal
    with pytest.raises(AirflowFailException, match=r"does not fit Parquet decimal\(38, 0\).*jsonl or csv") as info:
        run_operator(END - DAY, END, output_path=f"file://{tmp_path}/x.parquet", file_format="parquet")
    assert isinstance(info.value.__cause__, OutputFormatError) and isinstance(info.value.__cause__, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_a_retryable_api_error_is_left_to_airflow_s_retries(sandbox, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, max_attempts=1))
    sandbox.state.faults.schedule("5xx")
    with pytest.raises(LongPortAPIError, match="500000") as info:
        run_operator(END - DAY, END)
    assert info.value.retryable  # raised as it is, not as AirflowFailException: the task's retries apply
