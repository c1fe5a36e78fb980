"""The sandbox's US data centre: its entries, its accounts' regions, and its body's parameters."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from airflow_provider_cashflow.defaults import US_TRANSACTION_TYPES
from airflow_provider_cashflow.sandbox.accounts import DEMO, DEMO_US, region_of, wrong_centre
from airflow_provider_cashflow.sandbox.data import DatasetSpec, RevisionSpec
from airflow_provider_cashflow.sandbox.params import ApiError, us_history_params
from airflow_provider_cashflow.sandbox.us_data import _KINDS, UsDataset

END = datetime(2026, 11, 20, tzinfo=UTC)
SPEC = DatasetSpec(seed=11, days=10, per_day=30, end=END)
KEYS = [
    "title",
    "biz_code",
    "biz_code_name",
    "amount",
    "currency",
    "symbol",
    "market",
    "equity_type",
    "position_side",
    "quantity",
    "quantity_description",
    "ref_no",
    "remark",
    "create_at",
    "done_at",
]
DATA = UsDataset(SPEC)
ROWS = [DATA.record(i) for i in range(len(DATA))]


def test_every_entry_has_every_documented_key_as_a_json_string_and_a_signed_decimal_amount() -> None:
    assert len(ROWS) == 300
    for row in ROWS:
        assert list(row) == KEYS and all(isinstance(v, str) for v in row.values())
        assert re.fullmatch(r"-?\d+\.\d\d", row["amount"])
        assert DATA.start <= int(row["create_at"]) <= int(row["done_at"]) < DATA.end
    outflows = {"CASH_OUT", "STOCK_BUY", "OPTION_BTO", "CRYPTO_BUY", "DIVIDEND_TAX", "MARGIN_INTEREST", "PLATFORM_FEE"}
    assert all(r["amount"].startswith("-") == (r["biz_code"] in outflows) for r in ROWS if r["amount"] != "0.00")


def test_the_data_is_realistic_twins_non_ascii_options_corporate_actions_and_every_kind() -> None:
    codes = Counter(r["biz_code"] for r in ROWS)
    assert {"CASH_IN", "CASH_OUT", "STOCK_BUY", "OPTION_BTO", "OPTION_STO", "DIVIDEND", "SPLIT"} <= set(codes)
    assert {k.type for k in _KINDS} <= set(US_TRANSACTION_TYPES) and len({k.type for k in _KINDS}) >= 8
    twins = [row for row, n in Counter(json.dumps(r, ensure_ascii=False) for r in ROWS).items() if n > 1]
    assert twins and all(json.loads(t)["biz_code"] == "PLATFORM_FEE" for t in twins)  # ref_no shared too
    assert any(not r["remark"].isascii() for r in ROWS) and any(r["remark"] == "" for r in ROWS)
    options = [r for r in ROWS if r["equity_type"] == "OPTION"]
    assert options and {r["position_side"] for r in options} == {"LONG", "SHORT"}
    assert {r["currency"] for r in ROWS} == {"USD", "HKD"}
    assert [UsDataset(SPEC).record(i) for i in range(len(DATA))] == ROWS  # same seed, same data


def test_the_window_filters_on_the_chosen_time_field_newest_first() -> None:
    for field in ("create_at", "done_at"):
        data = UsDataset(SPEC, field)
        times = [int(data.record(i)[field]) for i in range(len(data))]
        assert times == sorted(times, reverse=True)
        lo, hi = data.start + 86400, data.start + 2 * 86400
        chosen = [data.record(i) for i in data.select(lo, hi, None, None)]
        assert chosen and all(lo <= int(r[field]) <= hi for r in chosen)
        assert len(chosen) == sum(lo <= t <= hi for t in times)
    with pytest.raises(ValueError, match="create_at, done_at"):
        UsDataset(SPEC, "settled_at")


def test_types_and_currency_filters_select_their_entries() -> None:
    options = [DATA.record(i) for i in DATA.select(DATA.start, DATA.end, (("TT_OPTIONS_TRADING",), None), None)]
    assert options and all(r["biz_code"].startswith("OPTION_") for r in options)
    assert len(options) == sum(r["biz_code"].startswith("OPTION_") for r in ROWS)
    hkd = [DATA.record(i) for i in DATA.select(DATA.start, DATA.end, ((), "HKD"), None)]
    assert hkd and all(r["currency"] == "HKD" for r in hkd)


def test_a_paid_dividend_shows_pending_before_it_settles() -> None:
    data = UsDataset(
        DatasetSpec(
            seed=11, days=10, per_day=30, end=END, revisions=RevisionSpec(provisional_share=1.0, settle_hours=30)
        )
    )
    index = next(i for i in range(len(data)) if data.record(i)["biz_code"] == "DIVIDEND")
    early = data.record(index, as_of=int(data.record(index)["create_at"]) + 3600)
    assert early["biz_code"] == "DIVIDEND_PENDING" and early["title"].startswith("Pending Dividend")
    assert early["amount"] == data.record(index)["amount"]
    assert data.record(index, as_of=None)["biz_code"] == "DIVIDEND"


def test_regions_are_read_from_the_credentials_as_the_sdk_reads_them() -> None:
    assert region_of(DEMO.app_key, DEMO.app_secret, DEMO.access_token) == "ap"
    assert region_of(DEMO_US.app_key, DEMO_US.app_secret, DEMO_US.access_token) == "us"
    assert region_of("k", "s", "us_token") == region_of("k", "us_secret", "t") == "us"
    assert region_of("us_client", "", "Bearer token", bearer=True) == "ap"  # a client id says nothing
    assert region_of("client", "", "Bearer us_token", bearer=True) == "us"


def test_the_other_centres_endpoint_is_refused_with_the_sdks_wording() -> None:
    refusal = wrong_centre("/v1/asset/cashflow", "us", "us")
    assert refusal is not None and (refusal.http_status, refusal.code) == (500, 12)
    assert refusal.message == (
        "this API (/v1/asset/cashflow) is only available in the AP data center and is not supported for your "
        "US-region account; use the US endpoint POST /v1/us/assets/transaction-history (TradeContext US methods)"
    )
    refusal = wrong_centre("/v1/us/assets/transaction-history", "ap", None)
    assert refusal is not None and "only available in the US data center" in refusal.message
    assert "AP-region account" in refusal.message
    routed = wrong_centre("/v1/us/assets/transaction-history", "us", "ap")
    assert routed is not None and "send x-dc-region: us" in routed.message
    assert wrong_centre("/v1/asset/cashflow", "ap", None) is None
    assert wrong_centre("/v1/us/assets/transaction-history", "us", "US") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "JSON object"),
        (b'{"start": "1", "end": 2}', "start is required and must be a JSON integer"),
        (b'{"start": 1}', "end is required"),
        (b'{"start": 5, "end": 2}', "start must not be after end"),
        (b'{"start": 1, "end": 2, "size": 501}', "size must be an integer from 1 to 500"),
        (b'{"start": 1, "end": 2, "page": 0}', "page must be an integer >= 1"),
        (b'{"start": 1, "end": 2, "types": ["TT_FOO"]}', "TT_DEPOSIT_AND_WITHDRAWAL"),
        (b'{"start": 0, "end": 90000}', "must not span more than 86400 seconds"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(ApiError) as error:
        us_history_params(body, 500, 86400)
    assert error.value.code == 400001 and message in error.value.message


def test_a_body_as_the_sdk_sends_it_is_read_with_its_defaults() -> None:
    sdk = (
        b'{"start": 1793491200, "end": 1793577600, "page": 2, "size": 100, "types": ["TT_DEPOSIT_AND_WITHDRAWAL"], '
        b'"currency": "USD"}'
    )
    assert us_history_params(sdk, 500, None) == {
        "start": 1793491200,
        "end": 1793577600,
        "page": 2,
        "size": 100,
        "served": 100,
        "types": ("TT_DEPOSIT_AND_WITHDRAWAL",),
        "currency": "USD",
    }
    assert us_history_params(b'{"start": 1, "end": 2}', 500, None)["size"] == 20  # the SDK's default


def test_a_size_above_the_maximum_is_clamped_silently_or_refused_with_either_code() -> None:
    body = b'{"start": 1, "end": 2, "size": 800}'
    assert us_history_params(body, 500, None, clamp=True)["served"] == 500
    with pytest.raises(ApiError) as refused:
        us_history_params(body, 500, None)
    assert refused.value.code == 400001 and "1 to 500" in refused.value.message
    with pytest.raises(ApiError) as validation:
        us_history_params(b'{"start": 1, "end": 99999}', 500, 3600, code=602001)
    assert validation.value.code == 602001 and validation.value.message.startswith("value does not match")


def test_the_control_sets_the_us_end_bound_the_clamp_and_the_refusal_code() -> None:
    from airflow_provider_cashflow.sandbox import Dataset, Sandbox
    from airflow_provider_cashflow.sandbox.__main__ import _parser

    sandbox = Sandbox(Dataset(DatasetSpec(days=1, per_day=5)), rate_limit=False)  # not started: no port served
    try:
        sandbox.control(us_end="exclusive", us_clamp=True, us_refusal_code=602001)
        assert (sandbox.state.us.end_inclusive, sandbox.state.us.clamp, sandbox.state.us.refusal_code) == (
            False,
            True,
            602001,
        )
        assert sandbox.state.upper_bound(100, us=True) == 99 and sandbox.state.upper_bound(100) == 100
        with pytest.raises(ValueError, match="us_refusal_code must be 400001 or 602001"):
            sandbox.control(us_refusal_code=500)
    finally:
        sandbox.close()
    args = _parser().parse_args(["--us-end", "exclusive", "--us-clamp", "--us-refusal-code", "602001"])
    assert (args.us_end, args.us_clamp, args.us_refusal_code) == ("exclusive", True, 602001)
