"""The AP cash-flow endpoint's parts (``GET /v1/asset/cashflow``): its query parameters, its answers checked, their
pages decoded fast or carefully (after the pager has seen the page's edges), records cut to a window."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, overload

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.client.page_decoder import (
    DecodedPage,
    PageEdges,
    decode_cash_flow_page,
    peek_cash_flow_page,
)
from airflow_provider_cashflow.domain.models import CashFlow, parse_cash_flow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import RecordError

__all__ = [
    "AnswerPage",
    "cash_flow_params",
    "checked_page",
    "cut_to_window",
    "decode_flows",
    "page_edges",
    "seconds_of",
]

log = logging.getLogger(__name__)


def cash_flow_params(
    query: CashFlowQuery, page: int, *, seconds: tuple[int, int] | None = None, size: int | None = None
) -> dict[str, str]:
    """Page ``page`` of ``query`` as query parameters, in the official SDK's order, unset ones left out.

    :param seconds: ``start_time`` and ``end_time``; by default the whole seconds covering the window (see
        :meth:`Window.request_bounds`).
    :param size: records per call; by default the query's page size.
    """
    start_time, end_time = seconds or query.window.request_bounds()
    params = {"start_time": str(start_time), "end_time": str(end_time)}
    if query.business_type is not None:
        params["business_type"] = str(int(query.business_type))
    if query.symbol:
        params["symbol"] = query.symbol
    params["page"] = str(page)
    params["size"] = str(size or query.page_size)
    return params


def decode_flows(answer: RawAnswer, params: Mapping[str, str], stats: CallStats) -> Sequence[CashFlow]:
    """A cash-flow answer's records: the fast decoder's if it takes the page, else the careful parser's.

    :param params: the call's parameters, for the error that names a record the API got wrong.
    :raises RecordError: a record the careful parser refuses, named with the call and its trace id.
    """
    records = decode_cash_flow_page(answer.body)
    if records is not None:
        records.trace_id = answer.trace_id
        return records
    data, trace_id = open_envelope(answer)  # raises the API's own error, if that is what it was
    stats.add(careful_pages=1)
    try:
        return Page.of(map(parse_cash_flow, page_rows(data, answer.path, trace_id)), trace_id)
    except RecordError as error:
        call = ", ".join(f"{key} {params[key]}" for key in ("start_time", "end_time", "page", "size"))
        raise RecordError(f"{error} (call with {call}, trace id {trace_id})") from None


class AnswerPage(Sequence[CashFlow]):
    """A checked answer's page, its records decoded on first use: the pager reads the page's edges first, and can
    send its next call before the 11 ms of decoding.

    :ivar edges: the page's count and first and last seconds, or ``None`` when only decoding can tell.
    """

    def __init__(self, answer: RawAnswer, params: Mapping[str, str], stats: CallStats, edges: PageEdges | None):
        self.answer = answer
        self.params = params
        self.stats = stats
        self.edges = edges

    @cached_property
    def records(self) -> Sequence[CashFlow]:
        return decode_flows(self.answer, self.params, self.stats)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[CashFlow]:
        return iter(self.records)

    @overload
    def __getitem__(self, index: int) -> CashFlow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[CashFlow]: ...

    def __getitem__(self, index: int | slice) -> CashFlow | Sequence[CashFlow]:
        return self.records[index]


def checked_page(answer: RawAnswer, params: Mapping[str, str], stats: CallStats) -> AnswerPage:
    """The answer as a page, once it is known to be one: what a retry can cure (an error envelope, a body that is
    not the API's JSON) is raised here, inside the call's retries; its records are decoded later, on first use.

    :raises LongPortAPIError: the envelope's code is not 0.
    :raises LongPortTransportError: the body is not JSON, or not the API's envelope.
    """
    edges = peek_cash_flow_page(answer.body)
    if edges is None:
        data, trace_id = open_envelope(answer)
        page_rows(data, answer.path, trace_id)
    return AnswerPage(answer, params, stats, edges)


def page_edges(page: Sequence[Any]) -> tuple[int, int, int] | None:
    """A page's record count and the seconds of its first and last records, before it is decoded, if known."""
    return page.edges if isinstance(page, AnswerPage) else None


def seconds_of(page: Sequence[CashFlow]) -> Sequence[int]:
    """Each record's ``business_time`` in Unix seconds, for the pager."""
    if isinstance(page, AnswerPage):
        page = page.records
    return page.seconds if isinstance(page, DecodedPage) else [record.epoch_seconds for record in page]


def cut_to_window(
    chunks: Iterator[Sequence[CashFlow]], window: Window, stats: CallStats
) -> Generator[CashFlow, None, None]:
    """The records of ``chunks`` inside ``window`` (its sub-second ends included), with a progress line per chunk.

    An empty window yields no chunk; it still logs its one line, so every extraction says what its calls found.
    """
    kept = 0
    logged = False
    start, end = window.start, window.end
    for records in chunks:
        for record in records:
            if start <= record.business_time < end:
                kept += 1
                yield record
        log.info("%d records in %s so far (%s)", kept, window, stats.progress())
        logged = True
    if not logged:
        log.info("%d records in %s so far (%s)", kept, window, stats.progress())
