"""A US account's entries: kept whole (every key, exact amounts, aware times), mapped onto the cash-flow columns,
and the query validated before any call."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from airflow_provider_cashflow.domain.models import CashFlow, Direction
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import (
    US_FIELD_NAMES,
    UsTransaction,
    parse_us_transaction,
    to_cash_flow,
)
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError, RecordError

ITEM = {
    "title": "Buy AAPL 买入",
    "biz_code": "STOCK_BUY",
    "biz_code_name": "Stock purchase",
    "amount": "-1234.5600",
    "currency": "USD",
    "symbol": "AAPL",
    "market": "US",
    "equity_type": "STOCK",
    "position_side": "LONG",
    "quantity": "10.000",
    "quantity_description": "10 shares",
    "ref_no": "R-1",
    "remark": "备注 remark",
    "create_at": "1793491200",
    "done_at": "1793491260",
}
START = datetime(2026, 11, 1, 4, tzinfo=UTC)  # midnight in New York, the day DST ends


def test_every_key_the_api_sends_is_kept_exactly() -> None:
    record = parse_us_transaction(ITEM)
    assert record.amount == Decimal("-1234.5600") and str(record.amount) == "-1234.5600"
    assert record.create_at == datetime.fromtimestamp(1793491200, UTC) and record.create_at.tzinfo
    assert record.extra is None
    row = record.to_dict()
    # the dict carries each key back as the API wrote it (times as ISO UTC of the same second)
    for key, value in ITEM.items():
        if key in ("create_at", "done_at"):
            assert datetime.fromisoformat(row[key]).timestamp() == int(value)
        else:
            assert row[key] == value
    assert list(row)[:-1] == list(ITEM) and list(row) == list(US_FIELD_NAMES)


def test_missing_keys_are_none_and_unknown_keys_are_kept_in_extra() -> None:
    record = parse_us_transaction({"amount": "5", "new_key": {"a": 1}, "z": "ü"})
    assert record.title is None and record.done_at is None and record.amount == Decimal(5)
    assert json.loads(record.extra) == {"new_key": {"a": 1}, "z": "ü"}
    assert parse_us_transaction({}) == UsTransaction()


def test_amount_as_a_json_number_stays_exact_and_bad_fields_are_named() -> None:
    number = json.loads('{"amount": -0.10000000000000001}', parse_float=Decimal)
    assert parse_us_transaction(number).amount == Decimal("-0.10000000000000001")
    for item, field in [
        ({"amount": "12,5"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": True}, "amount"),
        ({"create_at": "2026-11-01T00:00:00Z"}, "create_at"),  # the SDK would drop it silently; we stop
        ({"done_at": "1793491200000000000"}, "done_at"),
        ({"title": ["x"]}, "title"),
        ({"title": 1.5}, "title"),  # a float never comes from open_envelope (it parses floats as Decimal)
    ]:
        with pytest.raises(RecordError, match=field):
            parse_us_transaction(item)
    with pytest.raises(RecordError, match="JSON object"):
        parse_us_transaction(["x"])  # type: ignore[arg-type]


def test_the_mapping_onto_the_cash_flow_columns() -> None:
    flow = to_cash_flow(parse_us_transaction(ITEM))
    assert flow == CashFlow(
        transaction_flow_name="Stock purchase",
        direction=Direction.OUTFLOW,
        business_type=None,
        balance=Decimal("-1234.5600"),
        currency="USD",
        business_time=datetime.fromtimestamp(1793491260, UTC),  # done_at
        symbol="AAPL",
        description="Buy AAPL 买入 | 备注 remark",
    )
    pending = {**ITEM, "amount": "0", "done_at": "", "biz_code_name": "", "remark": "", "symbol": ""}
    flow = to_cash_flow(parse_us_transaction(pending))
    assert flow.direction is Direction.INFLOW and flow.balance == 0  # zero is no outflow
    assert flow.business_time == datetime.fromtimestamp(1793491200, UTC)  # create_at while pending
    assert (flow.transaction_flow_name, flow.symbol, flow.description) == ("STOCK_BUY", None, "Buy AAPL 买入")
    assert to_cash_flow(parse_us_transaction({**ITEM, "amount": "+7.1"})).direction is Direction.INFLOW
    with pytest.raises(RecordError, match=r"ref_no='R-1' has no amount, done_at or create_at.*us_columns='native'"):
        to_cash_flow(parse_us_transaction({**ITEM, "amount": None, "create_at": None, "done_at": None}))


def test_filters_are_validated_before_any_call() -> None:
    window = Window.of(START, START + timedelta(days=1))
    query = UsHistoryQuery.of(window, types="tt_options_trading, TT_OTHER", currency=" usd ", page_size="50")
    assert (query.types, query.currency, query.page_size) == (("TT_OPTIONS_TRADING", "TT_OTHER"), "USD", 50)
    assert UsHistoryQuery.of(window, types=["TT_OTHER", "TT_OTHER"]).types == ("TT_OTHER",)
    assert (
        UsHistoryQuery(window).page_size == 10_000
    )  # the largest page asked first: the pager learns what the server serves
    for bad, match in [
        ({"types": ["TT_STOCKS"]}, "'TT_STOCKS' is not a US transaction type; use any of TT_DEPOSIT_AND_WITHDRAWAL"),
        ({"types": 3}, "types must be a list"),
        ({"currency": "US"}, "currency must be one three-letter code"),
        ({"currency": ["USD"]}, "currency"),
        ({"page_size": 0}, "page_size must be a whole number of 1 or more"),
        ({"page_size": True}, "page_size"),
    ]:
        with pytest.raises(LongPortConfigError, match=match):
            UsHistoryQuery.of(window, **bad)


def test_the_body_is_the_sdk_s_with_both_ends_inclusive_seconds() -> None:
    window = Window.of(START, START + timedelta(days=1))
    query = UsHistoryQuery(window)
    start = int(START.timestamp())
    assert window.seconds_starting_in() == (start, start + 86_399)
    plain = json.loads(query.body(*window.seconds_starting_in(), 2, 100))
    assert list(plain.items()) == [("start", start), ("end", start + 86_399), ("page", 2), ("size", 100)]
    full = json.loads(UsHistoryQuery.of(window, types="TT_OTHER", currency="USD").body(1, 2, 1, 20))
    assert list(full) == ["start", "end", "page", "size", "types", "currency"] and full["types"] == ["TT_OTHER"]
    # a window off whole seconds covers exactly the whole seconds inside it; a sliver holds none
    odd = Window.of(START + timedelta(microseconds=500_000), START + timedelta(seconds=10, microseconds=1))
    assert odd.seconds_starting_in() == (start + 1, start + 10)
    assert odd.seconds() == (start, start + 10)  # the AP superset: the second the window begins inside, too
    sliver = Window.of(START + timedelta(microseconds=1), START + timedelta(microseconds=2))
    first, last = sliver.seconds_starting_in()
    assert first > last
