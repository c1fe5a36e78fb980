"""The cash-flow endpoint: its query parameters, its pages decoded fast or carefully, paged and cut to a window."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.client.paced_session import PacedSession
from airflow_provider_cashflow.client.page_decoder import decode_cash_flow_page
from airflow_provider_cashflow.client.pagination import iter_pages, iter_pages_pipelined
from airflow_provider_cashflow.client.retry_loop import RetryLoop
from airflow_provider_cashflow.client.stats import CallStats
from airflow_provider_cashflow.defaults import CASHFLOW_PATH
from airflow_provider_cashflow.domain.models import CashFlow, parse_cash_flow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortError, RecordError

__all__ = ["CashFlowEndpoint", "cash_flow_params"]

_RECORD_KEY = b'"transaction_flow_name"'
log = logging.getLogger(__name__)


def cash_flow_params(query: CashFlowQuery, page: int) -> dict[str, str]:
    """Page ``page`` of ``query`` as query parameters, in the official SDK's order, unset ones left out.

    The window is asked for in whole seconds covering it (see :meth:`Window.request_bounds`).
    """
    start_time, end_time = query.window.request_bounds()
    params = {"start_time": str(start_time), "end_time": str(end_time)}
    if query.business_type is not None:
        params["business_type"] = str(int(query.business_type))
    if query.symbol:
        params["symbol"] = query.symbol
    params["page"] = str(page)
    params["size"] = str(query.page_size)
    return params


def decode_flows(answer: RawAnswer, number: int, stats: CallStats) -> Sequence[CashFlow]:
    """A cash-flow answer's records: the fast decoder's if it takes the page, else the careful parser's.

    :param number: the page's number, for the error that names a record the API got wrong.
    :raises RecordError: a record the careful parser refuses, named with the page and trace id.
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
        raise RecordError(f"{error} (page {number}, trace id {trace_id})") from None


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

    def flows(
        self, params: Mapping[str, str], number: int = 1, first: RawAnswer | LongPortError | None = None
    ) -> Sequence[CashFlow]:
        """One page, retried, as :class:`CashFlow` records.

        :param number: the page's number, for error messages.
        :param first: the outcome of a first attempt already made (by the prefetching thread).
        """
        return self._retries.call(
            lambda: self._session.send(CASHFLOW_PATH, params),
            lambda answer: decode_flows(answer, number, self.stats),
            first=first,
        )

    def iter_cash_flows(self, query: CashFlowQuery, *, prefetch: bool = True) -> Generator[CashFlow, None, None]:
        """Every record of ``query`` with ``start <= business_time < end``, in the API's order (newest first).

        :param prefetch: request page n+1 while page n is decoded.
        """
        if prefetch:
            pages = self._pipelined_pages(query)
        else:
            pages = iter_pages(lambda page: self.flows(cash_flow_params(query, page), page), query.page_size)
        return self._cut(pages, query.window)

    def _pipelined_pages(self, query: CashFlowQuery) -> Iterator[Sequence[CashFlow]]:
        size = query.page_size

        def params(page: int) -> dict[str, str]:
            return cash_flow_params(query, page)

        def fetch_raw(page: int, on_sent: Callable[[], None]) -> RawAnswer | LongPortError:
            try:
                return self._session.send(CASHFLOW_PATH, params(page), on_sent)
            except LongPortError as error:  # retried on the decoding side, with the full retry policy
                return error

        def looks_full(answer: RawAnswer | LongPortError) -> bool:
            # Every record has this key once and an unescaped quote cannot occur inside a JSON string, so the
            # count is exact for a well-formed page; it is only a hint, the decoded page decides.
            return isinstance(answer, RawAnswer) and answer.status == 200 and answer.body.count(_RECORD_KEY) >= size

        return iter_pages_pipelined(
            fetch_raw, looks_full, lambda page, answer: self.flows(params(page), page, answer), size
        )

    def _cut(self, pages: Iterator[Sequence[CashFlow]], window: Window) -> Generator[CashFlow, None, None]:
        """The records of ``pages`` inside ``window``, with a progress line per page."""
        kept = number = 0
        start, end = window.start, window.end
        for number, records in enumerate(pages, start=1):
            for record in records:
                if start <= record.business_time < end:
                    kept += 1
                    yield record
            self._log_page(number, len(records), kept, window)
        if number == 0:  # the pager yields no empty page, but an empty window's one answer is a page like any other
            self._log_page(1, 0, 0, window)

    def _log_page(self, number: int, records: int, kept: int, window: Window) -> None:
        log.info(
            "page %d: %d records, %d in %s so far (%d calls, %.2f s waited for the rate limit)",
            number,
            records,
            kept,
            window,
            self.stats.calls,
            self.stats.rate_wait,
        )
