"""The cash-flow endpoint's query parameters, from one validated query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_cashflow.client.ap_cashflow import cash_flow_params, checked_page, page_edges, seconds_of
from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.domain.models import BusinessType
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortConfigError, LongPortTransportError

START = datetime(2026, 11, 1, 0, 0, 0, 500_000, tzinfo=UTC)
WINDOW = Window.of(START, START + timedelta(days=1))


def test_parameters_follow_the_sdk_s_order_and_leave_unset_filters_out() -> None:
    plain = cash_flow_params(CashFlowQuery(WINDOW, page_size=20), page=3)
    whole_start = int(START.timestamp())  # the window starts half a second past it
    # whole seconds that cover the window: the start rounded down, the end rounded up
    assert list(plain.items()) == [
        ("start_time", str(whole_start)),
        ("end_time", str(whole_start + 86_401)),
        ("page", "3"),
        ("size", "20"),
    ]
    full = cash_flow_params(CashFlowQuery.of(WINDOW, business_type="2", symbol=" AAPL.US ", page_size=None), page=1)
    assert list(full) == ["start_time", "end_time", "business_type", "symbol", "page", "size"]
    assert (full["business_type"], full["symbol"], full["size"]) == ("2", "AAPL.US", "10000")


def test_a_query_is_valid_whichever_way_it_was_made() -> None:
    query = CashFlowQuery.of(WINDOW, business_type=3)
    assert query.business_type is BusinessType.FUND and query == CashFlowQuery(WINDOW, BusinessType.FUND)
    with pytest.raises(LongPortConfigError, match="page_size"):
        CashFlowQuery(WINDOW, page_size=0)
    with pytest.raises(LongPortConfigError, match="needs a Window"):
        CashFlowQuery((START, START + timedelta(days=1)))  # type: ignore[arg-type]


def _answer(body: bytes) -> RawAnswer:
    return RawAnswer("/v1/asset/cashflow", 200, {"x-trace-id": "t-1"}, body)


def _row(second: int) -> str:
    return (
        '{"transaction_flow_name": "Fee", "direction": 2, "business_type": 1, "balance": "-1.5", "currency": "HKD", '
        f'"business_time": "{second}", "symbol": "", "description": ""}}'
    )


def test_a_checked_page_tells_its_edges_before_its_records_are_decoded() -> None:
    rows = ", ".join(_row(second) for second in (30, 20, 10))
    body = '{"code": 0, "message": "success", "data": {"list": [' + rows + "]}}"
    stats = CallStats()
    page = checked_page(_answer(body.encode()), {}, stats)
    assert page.edges == (3, 30, 10) and "records" not in page.__dict__  # nothing decoded yet
    assert seconds_of(page) == [30, 20, 10] and [r.epoch_seconds for r in page[1:]] == [20, 10]
    assert stats.careful_pages == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"code": 429002, "message": "too many", "data": null}', LongPortAPIError),
        (b"<html>502 Bad Gateway</html>", LongPortTransportError),
        (b'{"code": 0, "message": "success", "data": {"list": {}}}', LongPortTransportError),
    ],
)
def test_what_a_retry_can_cure_is_raised_when_the_answer_is_checked(body: bytes, error: type) -> None:
    with pytest.raises(error):
        checked_page(_answer(body), {}, CallStats())


def test_a_page_only_the_careful_parser_takes_has_no_edges_and_is_still_read() -> None:
    page = checked_page(_answer(b'{"code": 0, "message": "success", "data": {}}'), {}, CallStats())
    assert page.edges is None and page_edges(page) is None and len(page) == 0
