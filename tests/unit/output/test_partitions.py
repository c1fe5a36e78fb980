"""Cutting the newest-first record stream into UTC days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_cashflow.domain.windows import Window

UTC = UTC


@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=20)),
    offsets=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=60),
)
def test_split_by_day_puts_every_record_on_its_day_in_order(start, length, offsets) -> None:
    from decimal import Decimal

    from airflow_provider_cashflow.domain.models import CashFlow, Direction
    from airflow_provider_cashflow.output.partitions import split

    window = Window.of(start, start + length)
    # the API's order; timedelta rounding can land a moment on the excluded end, which the client drops
    moments = sorted((m for m in (window.start + length * f for f in offsets) if window.contains(m)), reverse=True)
    flows = [CashFlow("x", Direction.INFLOW, None, Decimal(1), "USD", m, None, "") for m in moments]
    parts = [(part, list(records)) for part, records in split(window, flows, "day")]
    assert [p for p, _ in parts] == list(window.days())  # every day, empty ones too, newest first
    assert [r for _, records in parts for r in records] == flows  # nothing lost, doubled or reordered
    for part, records in parts:
        assert all(part.contains(r.business_time) for r in records)
