from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_cashflow.domain.models import (
    FIELD_NAMES,
    BusinessType,
    CashFlow,
    Direction,
    RecordError,
    parse_cash_flow,
)

RAW = {
    "transaction_flow_name": "BuyContract-Stocks",
    "direction": 1,
    "business_type": 2,
    "balance": "-248.60",
    "currency": "USD",
    "business_time": "1621507957",
    "symbol": "AAPL.US",
    "description": "AAPL",
}


def test_parses_the_documented_example() -> None:
    flow = parse_cash_flow(RAW)
    assert flow.balance == Decimal("-248.60") and str(flow.balance) == "-248.60"
    assert flow.business_time == datetime(2021, 5, 20, 10, 52, 37, tzinfo=UTC)
    assert flow.direction is Direction.OUTFLOW and int(flow.direction) == 1
    assert flow.business_type is BusinessType.STOCK and int(flow.business_type) == 2
    assert flow.symbol == "AAPL.US"


def test_to_dict_keeps_api_keys_and_is_json_safe() -> None:
    d = parse_cash_flow(RAW).to_dict()
    assert tuple(d) == FIELD_NAMES
    assert d["balance"] == "-248.60" and d["business_time"] == "2021-05-20T10:52:37Z"
    assert d["direction"] == 1 and d["business_type"] == 2
    assert json.loads(json.dumps(d)) == d


@pytest.mark.parametrize(
    "drift",
    [
        {"direction": "1"},
        {"business_type": "2"},
        {"balance": Decimal("-248.60")},
        {"balance": -248.6},
        {"business_time": 1621507957},
    ],
)
def test_tolerates_documented_type_drift(drift: dict) -> None:
    flow = parse_cash_flow({**RAW, **drift})
    assert flow.direction is Direction.OUTFLOW
    assert flow.balance == Decimal("-248.6")
    assert flow.business_time.timestamp() == 1621507957


def test_missing_business_type_is_none_and_unknown_codes_survive() -> None:
    raw = dict(RAW)
    del raw["business_type"]
    assert parse_cash_flow(raw).business_type is None
    odd = parse_cash_flow({**RAW, "business_type": 0, "direction": 7})
    assert int(odd.business_type) == 0 and odd.business_type.name == "UNKNOWN_0"
    again = parse_cash_flow({**RAW, "business_type": 0})
    assert again.business_type is odd.business_type and len(BusinessType) == 3  # kept, not made a member
    assert int(odd.direction) == 7
    assert odd.to_dict()["direction"] == 7


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_symbol_is_none(empty: str | None) -> None:
    assert parse_cash_flow({**RAW, "symbol": empty}).symbol is None


@pytest.mark.parametrize("field", ["transaction_flow_name", "direction", "balance", "currency", "business_time"])
def test_missing_required_field_is_named(field: str) -> None:
    raw = dict(RAW)
    del raw[field]
    with pytest.raises(RecordError, match=field):
        parse_cash_flow(raw)


@pytest.mark.parametrize(
    "bad", [{"balance": "abc"}, {"balance": "NaN"}, {"direction": "out"}, {"business_time": "yesterday"}]
)
def test_garbage_values_are_rejected_with_the_field(bad: dict) -> None:
    with pytest.raises(RecordError, match=next(iter(bad))):
        parse_cash_flow({**RAW, **bad})


def test_record_is_immutable() -> None:
    flow = parse_cash_flow(RAW)
    with pytest.raises(AttributeError):
        flow.balance = Decimal(0)  # type: ignore[misc]


amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False, allow_infinity=False
)


@given(
    amount=amounts,
    seconds=st.integers(min_value=0, max_value=4_102_444_800),
    direction=st.integers(min_value=0, max_value=9),
    business_type=st.one_of(st.none(), st.integers(min_value=0, max_value=9)),
    as_text=st.booleans(),
    name=st.text(min_size=1, max_size=30),
)
def test_round_trip_is_exact(
    amount: Decimal, seconds: int, direction: int, business_type: int | None, as_text: bool, name: str
) -> None:
    raw = {
        "transaction_flow_name": name,
        "direction": str(direction) if as_text else direction,
        "business_type": business_type,
        "balance": str(amount) if as_text else amount,
        "currency": "HKD",
        "business_time": str(seconds),
        "symbol": None,
        "description": "",
    }
    flow = parse_cash_flow(raw)
    assert isinstance(flow, CashFlow)
    assert flow.balance == amount
    assert flow.business_time.tzinfo is UTC and flow.epoch_seconds == seconds
    again = parse_cash_flow(flow.to_dict() | {"business_time": str(seconds)})
    assert again == flow


@pytest.mark.parametrize("text", ["--5", "\u00b2", "1--"])
def test_a_code_that_only_looks_like_digits_is_a_record_error(text: str) -> None:
    from airflow_provider_cashflow.errors import RecordError

    raw = {"transaction_flow_name": "Fee", "direction": text, "balance": "1", "currency": "USD", "business_time": "0"}
    with pytest.raises(RecordError, match="direction"):
        parse_cash_flow(raw)
