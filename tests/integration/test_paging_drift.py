"""The hook over HTTP while the sandbox's history changes between its calls: exact at any page size, with
``end_time`` served inclusively or exclusively; and offset paging, under the very same changes, is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from airflow_provider_cashflow.domain.models import CashFlow, parse_cash_flow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, DriftSpec, Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import END, SPEC, UNLIMITED

# a posting and a cancellation after every page served, at every placement the sandbox knows; no more, or offset
# paging at page size 1 would never reach the end (a record posted ahead of it per page it reads)
DRIFT = DriftSpec(postings=1, cancellations=1, seed=5)
# the change that breaks offset paging: a posting newer than the offset (not with a cancellation of a served
# record, which would shift the offsets back)
AGAINST_OFFSETS = {"postings": 1, "placements": ["newer"]}
MONTH = DatasetSpec(seed=16, days=30, records=25_000, end=END)  # an active account: pages of 1,000 and 10,000 page


@pytest.fixture(scope="module")
def month() -> Dataset:
    return Dataset(MONTH)


def drifting(dataset: Dataset, monkeypatch: pytest.MonkeyPatch, end_inclusive: bool) -> Iterator[Sandbox]:
    with Sandbox(dataset, rate_limit=False, drift=DRIFT, end_inclusive=end_inclusive) as sandbox:
        set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, timeout=5))
        yield sandbox


def problems(sandbox: Sandbox, start: datetime, end: datetime, mark: int, got: list[CashFlow]) -> dict:
    truth = sandbox.drift_truth(int(start.timestamp()), int(end.timestamp()), after=mark)
    assert truth.came, "the history must have changed during the run for the test to mean anything"
    return truth.problems(got, key=parse_cash_flow)


def offset_paged(hook: CashflowHook, start: datetime, end: datetime, size: int) -> list[CashFlow]:
    """What the hook did before, and every peer does: page 1, 2, 3 ... of one window until a short page."""
    query, rows, page = CashFlowQuery(Window.of(start, end), page_size=size), [], 1
    while True:
        answer = hook.get_cash_flow_page(start, end, page=page, page_size=size)
        rows += [r for r in map(parse_cash_flow, answer) if query.window.contains(r.business_time)]
        if len(answer) < size:
            return rows
        page += 1


@pytest.mark.parametrize("end_inclusive", [True, False], ids=["end-inclusive", "end-exclusive"])
@pytest.mark.parametrize(
    ("size", "days"), [(1, 1), (7, 3), (1000, 30), (10_000, 30)], ids=["page-1", "page-7", "page-1000", "page-10000"]
)
def test_the_hook_is_exact_while_the_history_changes_between_its_calls(
    size: int, days: int, end_inclusive: bool, month: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = Dataset(SPEC) if days < 30 else month
    start, end = END - timedelta(days=days), END
    for sandbox in drifting(dataset, monkeypatch, end_inclusive):
        mark = sandbox.mark()
        hook = CashflowHook()
        got = list(hook.iter_cash_flows(start, end, page_size=size))
        assert problems(sandbox, start, end, mark, got) == {}
        assert [r.business_time for r in got] == sorted((r.business_time for r in got), reverse=True)
        if size >= 1000:
            # a changing history costs the cursor no more than the pages of records it reads, plus one
            assert hook.client.stats.calls <= -(-len(got) // (size - 10)) + 2
        hook.close()

        # after every third page at page size 1, or offset paging would read the same record forever
        sandbox.control(drift={**AGAINST_OFFSETS, "seed": size, "every": 3 if size == 1 else 1})
        mark = sandbox.mark()
        hook = CashflowHook()
        got = list(hook.iter_cash_flows(start, end, page_size=size))
        hook.close()
        assert problems(sandbox, start, end, mark, got) == {}
        # the same page size, the same kind of changes, offset paging: records lost or read twice
        mark = sandbox.mark()
        hook = CashflowHook()
        offset = offset_paged(hook, start, end, size)
        hook.close()
        assert problems(sandbox, start, end, mark, offset) != {}, "offset paging must drift here"
