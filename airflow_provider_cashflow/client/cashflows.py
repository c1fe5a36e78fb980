"""The cash-flow endpoint: its query parameters, its pages decoded fast or carefully, paged and cut to a window."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.client.paced_session import PacedSession
from airflow_provider_cashflow.client.page_decoder import DecodedPage, decode_cash_flow_page
from airflow_provider_cashflow.client.paging import time_cursor
from airflow_provider_cashflow.client.retry_loop import RetryLoop
from airflow_provider_cashflow.client.stats import CallStats
from airflow_provider_cashflow.defaults import CASHFLOW_PATH, MAX_PAGE_SIZE
from airflow_provider_cashflow.domain.models import CashFlow, parse_cash_flow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import RecordError

__all__ = ["CashFlowEndpoint", "cash_flow_params"]

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


def _seconds_of(page: Sequence[CashFlow]) -> Sequence[int]:
    return page.seconds if isinstance(page, DecodedPage) else [record.epoch_seconds for record in page]


class CashFlowEndpoint:
    """``GET /v1/asset/cashflow``, one retried page at a time or paged through a window.

    :param session: makes one paced, signed round trip.
    :param retries: retries one page's call.
    :param stats: the client's counters, for the progress lines.
    """

    def __init__(self, session: PacedSession, retries: RetryLoop, stats: CallStats) -> None:
        self._session = session
        self._retries = retries
        self.stats = stats

    def raw_page(self, query: CashFlowQuery, page: int) -> Page:
        """Page ``page`` of ``query``, retried, as raw API records (both ends of the asked seconds inclusive)."""
        params = cash_flow_params(query, page)

        def decode(answer: RawAnswer) -> Page:
            data, trace_id = open_envelope(answer)
            return Page.of(page_rows(data, answer.path, trace_id), trace_id)

        return self._retries.call(lambda: self._session.send(CASHFLOW_PATH, params), decode)

    def iter_cash_flows(self, query: CashFlowQuery) -> Generator[CashFlow, None, None]:
        """Every record of ``query`` with ``start <= business_time < end``, newest first, exact while the
        history changes (see :func:`~airflow_provider_cashflow.client.paging.time_cursor`)."""

        def fetch(start_time: int, end_time: int, page: int, size: int) -> Sequence[CashFlow]:
            params = cash_flow_params(query, page, seconds=(start_time, end_time), size=size)
            return self._retries.call(
                lambda: self._session.send(CASHFLOW_PATH, params),
                lambda answer: decode_flows(answer, params, self.stats),
            )

        first, last = query.window.seconds()
        chunks = time_cursor(fetch, _seconds_of, first, last, query.page_size, max_size=MAX_PAGE_SIZE)
        return self._cut(chunks, query.window)

    def _cut(self, chunks: Iterator[Sequence[CashFlow]], window: Window) -> Generator[CashFlow, None, None]:
        """The records of ``chunks`` inside ``window``, with a progress line per chunk."""
        kept, logged = 0, False
        start, end = window.start, window.end
        for records in chunks:
            for record in records:
                if start <= record.business_time < end:
                    kept += 1
                    yield record
            self._log_progress(kept, window)
            logged = True
        if not logged:  # an empty window's one answer gets its line like any other (no chunk comes of it)
            self._log_progress(kept, window)

    def _log_progress(self, kept: int, window: Window) -> None:
        log.info(
            "%d records in %s so far (%d calls, %.2f s waited for the rate limit)",
            kept,
            window,
            self.stats.calls,
            self.stats.rate_wait,
        )
