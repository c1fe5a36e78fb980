"""The fast page decoder against the careful parser: it may pass a page on, but never disagree with it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_cashflow.client.page_decoder import decode_cash_flow_page, peek_cash_flow_page
from airflow_provider_cashflow.domain.models import parse_cash_flow
from airflow_provider_cashflow.errors import RecordError

# JSON texts per field: what the live service sends, the documented drift, and junk; as raw JSON so that number
# literals such as 1.0, 1e400 or -0.0 reach both decoders exactly as written.
CANONICAL = {
    "transaction_flow_name": ['"BuyContract-Stocks"', '"入金"', '""'],
    "direction": ["1", "2"],
    "business_type": ["1", "2", "3", "0"],
    "balance": ['"-248.60"', '"0"', '"1000000.123456"', '"-0.01"'],
    "currency": ['"USD"', '"HKD"'],
    "business_time": ['"1621507957"', '"0"', '"1793491200"'],
    "symbol": ['"AAPL.US"', '""', "null"],
    "description": ['"AAPL"', '""', '"贵州茅台"'],
}
DRIFT = {
    "transaction_flow_name": ["5", "null", "true"],
    "direction": [
        '"1"',
        '"2"',
        '"7"',
        "7",
        "1.0",
        "1.5",
        '"1.0"',
        '"1e0"',
        '" 1"',
        '"+1"',
        "true",
        '"x"',
        "null",
        '""',
        '"-1"',
        '"01"',
        '"\u0661"',  # an Arabic-Indic digit one, which int() and Decimal() accept
    ],
    "business_type": ['"2"', "null", '""', "1.0", '"1.0"', "-3", '"x"', "false"],
    "balance": [
        "-248.6",
        "-248.60",
        "0",
        "-0.0",
        "1e400",
        "1E+2",
        '"NaN"',
        '"-Infinity"',
        '"sNaN"',
        '" 1.5 "',
        '"1_0"',
        '"\u0661"',
        '"abc"',
        "true",
        "null",
        '""',
        "12345678901234567890.123456789",
    ],
    "currency": ["1", "null", '"usd"'],
    "business_time": [
        "1621507957",
        "1621507957.0",
        "1621507957.5",
        '"1621507957.0"',
        '"1e9"',
        '" 1621507957"',
        '"1_621_507_957"',
        '"-5"',
        "-5",
        '"+5"',
        "99999999999999999999",
        '"99999999999999"',
        '"x"',
        "null",
        "true",
        '""',
        '"١٢"',
    ],
    "symbol": ["5", "true", '"600519.SH"'],
    "description": ["null", "5", "[]"],
}
OPTIONAL = ("business_type", "symbol", "description")


def _careful(body: bytes) -> list[Any] | RecordError:
    rows = json.loads(body, parse_float=Decimal)["data"]["list"]
    try:
        return [parse_cash_flow(row) for row in rows]
    except RecordError as error:
        return error


def _exact(records: list[Any]) -> list[tuple[tuple[type, str], ...]]:
    # repr tells Decimal("1.0") from Decimal("1") and an enum member from its int, which == does not
    return [tuple((type(value), repr(value)) for value in record) for record in records]


def _body(rows: list[dict[str, str]], code: str = "0") -> bytes:
    texts = ["{" + ", ".join(f'"{key}": {value}' for key, value in row.items()) + "}" for row in rows]
    return f'{{"code": {code}, "message": "success", "data": {{"list": [{", ".join(texts)}]}}}}'.encode()


def _record(pools: dict[str, list[str]]) -> st.SearchStrategy[dict[str, str]]:
    fields = {key: st.sampled_from(values) for key, values in pools.items()}
    present = st.fixed_dictionaries({key: st.booleans() for key in pools})
    return st.tuples(st.fixed_dictionaries(fields), present).map(
        lambda pair: {k: v for k, v in pair[0].items() if k not in OPTIONAL or pair[1][k]}
    )


def _drifted() -> st.SearchStrategy[dict[str, str]]:
    merged = {key: CANONICAL[key] + DRIFT[key] for key in CANONICAL}
    missing = st.sampled_from([None, *CANONICAL])
    return st.tuples(_record(merged), missing).map(lambda pair: {k: v for k, v in pair[0].items() if k != pair[1]})


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(_drifted(), min_size=1, max_size=4))
@example(rows=[{**{k: v[0] for k, v in CANONICAL.items()}, "business_time": '"1621507957.0"'}])
@example(rows=[{**{k: v[0] for k, v in CANONICAL.items()}, "balance": '"NaN"'}])
def test_the_fast_path_never_disagrees_with_the_careful_parser(rows: list[dict[str, str]]) -> None:
    body = _body(rows)
    fast = decode_cash_flow_page(body)
    careful = _careful(body)
    if fast is not None:
        assert not isinstance(careful, RecordError), f"fast path accepted what the careful parser refuses: {careful}"
        assert _exact(fast) == _exact(careful)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_record(CANONICAL), max_size=5))
def test_the_fast_path_takes_every_page_of_the_usual_shape(rows: list[dict[str, str]]) -> None:
    body = _body(rows)
    fast = decode_cash_flow_page(body)
    assert fast is not None
    assert _exact(fast) == _exact(_careful(body))


def test_the_documented_drift_stays_on_the_fast_path() -> None:
    usual = {k: v[0] for k, v in CANONICAL.items()}
    drift = {**usual, "direction": '"1"', "business_type": '"1"', "balance": "-248.60", "business_time": "1621507957"}
    fast = decode_cash_flow_page(_body([drift]))
    assert fast is not None and list(fast) == list(decode_cash_flow_page(_body([usual])))
    assert str(fast[0].balance) == "-248.60"  # a JSON number keeps its digits: no float on the way


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": 401003, "message": "token expired", "data": null}',
        b'{"code": "0", "message": "success", "data": {"list": []}}',
        b'{"code": 0.0, "message": "success", "data": {"list": []}}',
        b'{"code": 0, "message": "success", "data": null}',
        b'{"code": 0, "message": "success", "data": {}}',
        b'{"code": 0, "message": "success", "data": {"list": {}}}',
        b'{"message": "success"}',
        b"<html>502 Bad Gateway</html>",
        b'{"code":0,"message":"success","data":{"list":[{"transaction_flow_name":"Buy',
        b"",
    ],
)
def test_anything_but_a_plain_success_is_left_to_the_careful_path(body: bytes) -> None:
    assert decode_cash_flow_page(body) is None
    assert peek_cash_flow_page(body) is None


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(_drifted(), max_size=4))
def test_a_pages_edges_are_those_of_its_records_whenever_they_can_be_told(rows: list[dict[str, str]]) -> None:
    """The pager sends its next call from these edges before decoding: where both exist they must agree."""
    body = _body(rows)
    edges = peek_cash_flow_page(body)
    careful = _careful(body)
    if edges is not None and not isinstance(careful, RecordError):
        seconds = [record.epoch_seconds for record in careful]
        assert edges == ((len(seconds), seconds[0], seconds[-1]) if seconds else (0, 0, 0))
    if decode_cash_flow_page(body) is not None:
        assert edges is not None  # every page the fast path takes has its edges told first


def test_an_empty_page_is_empty() -> None:
    page = decode_cash_flow_page(b'{"code": 0, "message": "success", "data": {"list": []}}')
    assert page is not None and len(page) == 0 and list(page) == []


def test_a_page_builds_its_records_as_they_are_read_and_holds_nothing_the_collector_scans() -> None:
    import gc

    rows = [{k: v[i % len(v)] for k, v in CANONICAL.items()} for i in range(12)]
    body = _body(rows)
    page = decode_cash_flow_page(body)
    assert page is not None and len(page) == 12
    careful = _careful(body)
    assert _exact(page) == _exact(careful)
    assert _exact([page[i] for i in range(-12, 12)]) == _exact(careful + careful)
    assert _exact(careful[:3] + list(page[3:7]) + careful[7:]) == _exact(careful)
    assert page[3:7].seconds == [record.epoch_seconds for record in careful[3:7]]  # a slice is still built as read
    # what waits to be read is invisible to the garbage collector: a full page cannot push it into a full collection
    held = [page._rows, page._times, page[3:7]._rows]
    assert not any(gc.is_tracked(item) for items in held for item in items)
