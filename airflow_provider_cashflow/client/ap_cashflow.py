"""The AP cash-flow endpoint's parts (``GET /v1/asset/cashflow``): its query parameters, its pages decoded fast or
carefully, records cut to a window."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.client.page_decoder import DecodedPage, decode_cash_flow_page
from airflow_provider_cashflow.domain.models import CashFlow, parse_cash_flow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import RecordError

__all__ = ["cash_flow_params", "cut_to_window", "decode_flows", "seconds_of"]

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


def seconds_of(page: Sequence[CashFlow]) -> Sequence[int]:
    """Each record's ``business_time`` in Unix seconds, for the pager."""
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
