"""The cash-flow endpoint's query parameters, from one validated query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_cashflow.client.ap_cashflow import cash_flow_params
from airflow_provider_cashflow.domain.models import BusinessType
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

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
