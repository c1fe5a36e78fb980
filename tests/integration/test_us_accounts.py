"""A US account end to end against the sandbox's US data centre: the hook and the operator exact against its ground
truth for New York days across the end of DST (2026-11-01 has 25 hours), whatever order the endpoint answers in
and whichever time field it filters on; the refusals, each before any call."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from airflow_provider_cashflow.compat import AirflowFailException
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import parse_us_transaction, to_cash_flow
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.operators.cashflow import CashflowOperator
from airflow_provider_cashflow.sandbox import Dataset, Sandbox, UsDataset, UsOptions
from airflow_provider_cashflow.sandbox.data import DatasetSpec
from tests.helpers.connections import set_connection
from tests.helpers.data import UNLIMITED
from tests.helpers.operator import run_operator

NEW_YORK = ZoneInfo("America/New_York")
SPEC = DatasetSpec(seed=17, days=6, per_day=40, end=datetime(2026, 11, 4, 12, tzinfo=UTC))
START, END = datetime(2026, 10, 31, tzinfo=NEW_YORK), datetime(2026, 11, 3, tzinfo=NEW_YORK)  # Sat, Sun, Mon
DAYS = [
    (datetime(2026, 10, 31 + n, tzinfo=NEW_YORK) if n == 0 else datetime(2026, 11, n, tzinfo=NEW_YORK))
    for n in range(4)
]


def ny_days() -> list[tuple[datetime, datetime]]:
    return list(itertools.pairwise(DAYS))


def us_sandbox(monkeypatch: pytest.MonkeyPatch, field: str = "create_at", **us: object) -> Sandbox:
    sandbox = Sandbox(Dataset(SPEC), rate_limit=False, us_dataset=UsDataset(SPEC, field), us=UsOptions(**us))
    sandbox.start()
    set_connection(monkeypatch, "longport_us", sandbox.connection(us=True, **UNLIMITED, timeout=5))
    set_connection(monkeypatch, "longport_ap", sandbox.connection(**UNLIMITED, timeout=5))
    return sandbox


def truth(sandbox: Sandbox, start: datetime, end: datetime) -> Counter:
    rows = sandbox.us_records(int(start.timestamp()), int(end.timestamp()))
    return Counter(json.dumps(parse_us_transaction(r).to_dict(), sort_keys=True) for r in rows)


def as_counter(rows: list[dict]) -> Counter:
    return Counter(json.dumps(r, sort_keys=True) for r in rows)


@pytest.mark.parametrize("clamp", [False, True])
@pytest.mark.parametrize("end", ["inclusive", "exclusive"])
@pytest.mark.parametrize("field", ["create_at", "done_at"])
@pytest.mark.parametrize("order", ["newest", "oldest", "shuffled"])
def test_the_hook_reads_each_new_york_day_exactly(monkeypatch, field: str, order: str, end: str, clamp: bool) -> None:
    """Every combination of the US endpoint's undocumented behaviours; a page of at most 15 (clamped silently, or
    refused above it) where a day holds about 40."""
    sandbox = us_sandbox(monkeypatch, field, order=order, end_inclusive=end == "inclusive", clamp=clamp, max_size=15)
    try:
        hook = CashflowHook("longport_us")
        query = UsHistoryQuery(Window.of(START, END))  # a day holds ~40: every day must be split
        days = [(day, [r.to_dict() for r in records]) for day, records in hook.iter_us_days(query, NEW_YORK)]
        assert [(d.start, d.end) for d, _ in days] == [
            (s.astimezone(UTC), e.astimezone(UTC)) for s, e in reversed(ny_days())
        ]
        assert days[1][0].end - days[1][0].start == timedelta(hours=25)
        total = 0
        for day, rows in days:
            want = truth(sandbox, day.start, day.end)
            assert as_counter(rows) == want and sum(want.values()) > 10
            total += len(rows)
        whole = [r.to_dict() for r in hook.iter_us_transactions(START, END)]
        assert as_counter(whole) == truth(sandbox, START, END) and len(whole) == total
        # records created on one New York day and done on the next: the day is the server's, never ours
        spanning = [r for _, rows in days for r in rows if r["create_at"][:10] != r["done_at"][:10]]
        assert spanning
        stats = sandbox.state.snapshot()
        assert stats["rejected_region"] == 0 and stats["rejected_auth"] == 0
    finally:
        sandbox.stop()


def test_filters_reach_the_endpoint(monkeypatch) -> None:
    sandbox = us_sandbox(monkeypatch)
    try:
        hook = CashflowHook("longport_us")
        kinds = ["TT_DEPOSIT_AND_WITHDRAWAL", "TT_OPTIONS_TRADING"]
        rows = list(hook.iter_us_transactions(START, END, types=kinds, currency="usd"))
        every = list(hook.iter_us_transactions(START, END))
        assert rows and len(rows) < len(every) and {r.currency for r in rows} == {"USD"}
        assert all(r.biz_code.startswith(("CASH_", "OPTION_")) for r in rows), {r.biz_code for r in rows}
    finally:
        sandbox.stop()


@pytest.mark.parametrize(("file_format", "us_columns"), [("jsonl", "cashflow"), ("parquet", "native")])
def test_the_operator_writes_new_york_days_exactly_with_lookback(
    monkeypatch, tmp_path: Path, file_format: str, us_columns: str
) -> None:
    # an exclusive end and a page clamped silently at 9: the two behaviours that lost records
    sandbox = us_sandbox(monkeypatch, "done_at", order="shuffled", end_inclusive=False, clamp=True, max_size=9)

    def run() -> tuple[dict, CashflowOperator]:
        # the run of Monday 2026-11-02, re-reading two days back across the DST change; no time zone given
        result, _, op = run_operator(
            DAYS[2],
            DAYS[3],
            longport_conn_id="longport_us",
            output_path=f"{tmp_path.as_uri()}/{{date}}.{file_format}",
            file_format=file_format,
            partition_by="day",
            lookback=2,
            us_columns=us_columns,
        )
        return result, op

    def normal(row: dict) -> str:  # Parquet keeps the amount at its scale and the times as datetimes
        times = {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") for k, v in row.items() if isinstance(v, datetime)}
        return json.dumps({**row, **times, "amount": str(Decimal(row["amount"]).normalize())}, sort_keys=True)

    try:
        result, op = run()
        assert result["partition_timezone"] == "America/New_York" and result["dc_region"] == "us"
        names = ["2026-10-31", "2026-11-01", "2026-11-02"]
        assert [Path(f["path"]).name for f in result["files"]] == [f"{name}.{file_format}" for name in names]
        for (start, end), name in zip(ny_days(), names, strict=True):
            path = tmp_path / f"{name}.{file_format}"
            truth_rows = sandbox.us_records(int(start.timestamp()), int(end.timestamp()))
            if file_format == "jsonl":
                rows = [json.loads(line) for line in path.read_text().splitlines()]
                assert rows and as_counter(rows) == as_counter(
                    [to_cash_flow(parse_us_transaction(r), "done_at").to_dict() for r in truth_rows]
                ), name
                times = [r["business_time"] for r in rows]
                assert times == sorted(times, reverse=True)  # newest first, whatever the server's order
                # each row's business_time is the time the server filtered it on: its local day is the file's
                days = {datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(NEW_YORK).date() for t in times}
                assert {str(d) for d in days} == {name}, name
            else:
                table = pq.read_table(path)
                assert table.schema.field("amount").type.scale == 12
                assert str(table.schema.field("done_at").type) == "timestamp[ms, tz=UTC]"
                rows = table.to_pylist()
                assert rows and Counter(map(normal, rows)) == Counter(
                    normal(parse_us_transaction(r).to_dict()) for r in truth_rows
                ), name
        written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        again, _ = run()
        assert [d["gained"] + d["lost"] for d in again["rewritten"]] == [0, 0, 0]  # idempotent
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == written  # byte for byte
        lineage = op.get_openlineage_facets_on_complete(None)
        if lineage is not None:
            assert lineage.inputs[0].name == "/v1/us/assets/transaction-history"
    finally:
        sandbox.stop()


@pytest.mark.parametrize("code", [400001, 602001])
def test_a_size_the_endpoint_refuses_is_stepped_down_to_the_one_it_names(monkeypatch, caplog, code: int) -> None:
    sandbox = us_sandbox(monkeypatch, max_size=50, refusal_code=code)
    try:
        rows, _, _ = run_operator(START, END, longport_conn_id="longport_us", us_columns="native")
        assert as_counter(rows) == truth(sandbox, START, END)
        # the refused default, the same window with size 1, then the size the refusal named ("1 to 50")
        assert sandbox.state.snapshot()["rejected_params"] == 1
        warning = next(r.getMessage() for r in caplog.records if "refused size=10000" in r.getMessage())
        assert "page_size" in warning and "business_type" not in warning
    finally:
        sandbox.stop()


@pytest.mark.parametrize("code", [400001, 602001])
def test_a_span_the_endpoint_refuses_is_read_in_parts_exactly(monkeypatch, code: int) -> None:
    sandbox = us_sandbox(monkeypatch, max_span=6 * 3600, refusal_code=code)
    try:
        rows, _, _ = run_operator(START, END, longport_conn_id="longport_us", us_columns="native")
        assert as_counter(rows) == truth(sandbox, START, END)
    finally:
        sandbox.stop()


def test_filters_of_the_other_endpoint_are_refused_before_any_call(monkeypatch) -> None:
    sandbox = us_sandbox(monkeypatch)
    try:
        with pytest.raises(AirflowFailException, match=r"US-region account.*symbol='AAPL.US' filter the AP endpoint"):
            run_operator(DAYS[2], DAYS[3], longport_conn_id="longport_us", symbol="AAPL.US")
        with pytest.raises(AirflowFailException, match=r"AP-region account.*types=.* filter the US endpoint only"):
            run_operator(DAYS[2], DAYS[3], longport_conn_id="longport_ap", types=["TT_OTHER"])
        with pytest.raises(LongPortConfigError, match="is not a US transaction type"):  # a literal list: at parse time
            run_operator(DAYS[2], DAYS[3], longport_conn_id="longport_us", types=["TT_STOCKS"])
        assert sandbox.state.snapshot()["calls"] == 0
    finally:
        sandbox.stop()


def test_an_oauth_us_account_refreshes_its_token_in_the_us_data_centre(monkeypatch) -> None:
    sandbox = Sandbox(Dataset(SPEC), rate_limit=False, us_dataset=UsDataset(SPEC), expire_token_after=2)
    sandbox.start()
    try:
        set_connection(monkeypatch, "longport_us", sandbox.connection(us=True, oauth=True, **UNLIMITED))
        hook = CashflowHook("longport_us")
        assert hook.settings.mode == "oauth" and hook.settings.dc_region == "us"
        rows = [r.to_dict() for r in hook.iter_us_transactions(START, END, page_size=20)]
        assert as_counter(rows) == truth(sandbox, START, END)
        assert hook.client.stats.token_refreshes >= 1  # the sandbox refuses a refresh routed to the AP centre
        assert sandbox.state.snapshot()["rejected_region"] == 0
    finally:
        sandbox.stop()


@pytest.mark.parametrize(("end", "clamp"), [(True, False), (False, True)])
def test_each_day_is_exact_while_the_us_history_changes_between_calls(monkeypatch, end: bool, clamp: bool) -> None:
    from airflow_provider_cashflow.sandbox import DriftSpec

    sandbox = Sandbox(
        Dataset(SPEC),
        rate_limit=False,
        drift=DriftSpec(postings=1, cancellations=1, seed=5),
        us_dataset=UsDataset(SPEC, "done_at"),
        us=UsOptions(order="shuffled", end_inclusive=end, clamp=clamp, max_size=9),
    )
    sandbox.start()
    try:
        set_connection(monkeypatch, "longport_us", sandbox.connection(us=True, **UNLIMITED, timeout=5))
        hook = CashflowHook("longport_us")
        mark = sandbox.mark()
        days = [
            (d, list(r)) for d, r in hook.iter_us_days(UsHistoryQuery(Window.of(START, END), page_size=7), NEW_YORK)
        ]
        changed = 0
        for day, got in days:
            truth = sandbox.drift_truth(int(day.start.timestamp()), int(day.end.timestamp()), after=mark, us=True)
            changed += len(truth.came) + len(truth.went)
            assert truth.problems(got, key=parse_us_transaction) == {}, day
        assert changed, "the history must have changed during the run for the test to mean anything"
    finally:
        sandbox.stop()


def test_the_test_button_makes_one_us_call_for_a_us_account(monkeypatch) -> None:
    sandbox = us_sandbox(monkeypatch)
    try:
        ok, message = CashflowHook("longport_us").test_connection()
        assert ok, message
        assert "US data centre: its app key starts with 'us_'" in message
        stats = sandbox.state.snapshot()
        assert stats["calls"] == 1 and stats["rejected_region"] == 0
    finally:
        sandbox.stop()
