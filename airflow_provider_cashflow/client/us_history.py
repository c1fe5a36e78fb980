"""The US data centre's ``POST /v1/us/assets/transaction-history``: one signed JSON call, and its answer decoded.

The endpoint promises no order, no total and no page-size limit, and does not say whether its window filters on
``create_at`` or ``done_at``. So nothing here cuts records by a time field: a window's records are what the
server returns for that window's query (``start`` and ``end`` both inclusive whole seconds, which covers exactly the
half-open window), and day files are made of one query per day (see :meth:`UsHistoryEndpoint.iter_days`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import tzinfo

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope
from airflow_provider_cashflow.client.paced_session import PacedSession
from airflow_provider_cashflow.client.pagination import iter_pages
from airflow_provider_cashflow.client.retry_loop import RetryLoop
from airflow_provider_cashflow.client.stats import CallStats
from airflow_provider_cashflow.defaults import US_HISTORY_PATH
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import UsTransaction, parse_us_transaction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortConfigError, LongPortTransportError, RecordError

__all__ = ["UsHistoryEndpoint", "decode_us_page"]

log = logging.getLogger(__name__)


def decode_us_page(answer: RawAnswer, number: int = 1) -> Page:
    """The entries of one answer (``data.items``) as :class:`UsTransaction` records, with the answer's trace id.

    :raises LongPortAPIError: the envelope carries an error code.
    :raises LongPortTransportError: the body is not the envelope, or ``items`` is not a list.
    :raises RecordError: an entry that cannot be read, named with the page and trace id.
    """
    data, trace_id = open_envelope(answer)
    items = data.get("items") if isinstance(data, dict) else None
    if items is None:
        return Page.of((), trace_id)
    if not isinstance(items, list):
        raise LongPortTransportError(
            f"POST {answer.path} answered with data.items of type {type(items).__name__}", trace_id=trace_id
        )
    try:
        return Page.of(map(parse_us_transaction, items), trace_id)
    except RecordError as error:
        raise RecordError(f"{error} (page {number}, trace id {trace_id})") from None


def _is_empty(window: Window) -> bool:
    # no whole second lies in it: nothing to ask for (a split may leave such a sliver)
    return math.ceil(window.start.timestamp()) > math.ceil(window.end.timestamp()) - 1


class UsHistoryEndpoint:
    """``POST /v1/us/assets/transaction-history``, one retried page at a time, or every record of a window.

    :param session: makes one paced, signed round trip.
    :param retries: retries one page's call.
    :param stats: the client's counters, for the progress lines.
    """

    def __init__(self, session: PacedSession, retries: RetryLoop, stats: CallStats) -> None:
        self._session = session
        self._retries = retries
        self.stats = stats

    def page(self, query: UsHistoryQuery, window: Window, number: int) -> Page:
        """Page ``number`` of ``window`` (``query``'s window or a part of it), retried, as typed records.

        :raises LongPortConfigError: the server refused the request's parameters (a ``size`` above its
            undocumented maximum, most likely): no retry would cure it.
        """
        if _is_empty(window):
            return Page.of((), None)
        body = query.body(window, number)
        try:
            return self._retries.call(
                lambda: self._session.send(US_HISTORY_PATH, {}, body=body),
                lambda answer: decode_us_page(answer, number),
            )
        except LongPortAPIError as error:
            if error.retryable or error.code // 1000 != 400:
                raise
            raise LongPortConfigError(
                f"POST {US_HISTORY_PATH} refused the request (size={query.page_size}, types={list(query.types)}, "
                f"currency={query.currency!r}): {error}. The endpoint's largest page size is undocumented: if the "
                f"refusal is about the size, pass a smaller page_size (the official SDK sends 20)"
            ) from error

    def fetch(self, query: UsHistoryQuery) -> Callable[[Window, int], Page]:
        """``fetch(window, page)`` for a pager: page ``page`` of a part of ``query``'s window."""
        return lambda window, number: self.page(query, window, number)

    def iter_window(self, query: UsHistoryQuery, window: Window | None = None) -> Iterator[UsTransaction]:
        """Every record the server returns for ``window`` (default: the query's), page after page until a short one."""
        part = query.window if window is None else window
        fetch = self.fetch(query)
        kept = 0
        for number, records in enumerate(iter_pages(lambda page: fetch(part, page), query.page_size), start=1):
            kept += len(records)
            yield from records
            log.info(
                "US page %d: %d records, %d in %s so far (%d calls, %.2f s waited for the rate limit)",
                number,
                len(records),
                kept,
                part,
                self.stats.calls,
                self.stats.rate_wait,
            )

    def iter_days(self, query: UsHistoryQuery, tz: tzinfo) -> Iterator[tuple[Window, Iterator[UsTransaction]]]:
        """``(day, records of day)`` for each local day of ``tz`` in the query's window, newest first.

        Each day is its own query, so a record's day is the day whose query returned it, whichever time field the
        server filters on and in whatever order it answers; the records are never re-sorted or cut by a time.
        Each day's iterator must be consumed before the next day is taken.
        """
        for day in query.window.days(tz):
            yield day, self.iter_window(query, day)
