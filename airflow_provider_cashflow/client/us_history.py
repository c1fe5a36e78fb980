"""The US data centre's ``POST /v1/us/assets/transaction-history``: one signed JSON call, its answer decoded, and a
window read whole through the US pager.

The endpoint promises no order, no total and no page-size limit, and does not say whether its window filters on
``create_at`` or ``done_at``: :func:`~airflow_provider_cashflow.client.us_paging.read_us_window` learns what the
answers show, per host, and is exact whatever they are. Day files are made of one such read per day
(:meth:`UsHistoryEndpoint.iter_days`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import tzinfo

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope
from airflow_provider_cashflow.client.paced_session import CallStats, PacedSession
from airflow_provider_cashflow.client.paging import Fetch
from airflow_provider_cashflow.client.retry import RetryLoop
from airflow_provider_cashflow.client.us_paging import Refused, facts_for, read_us_window
from airflow_provider_cashflow.defaults import US_HISTORY_PATH
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import UsTransaction, parse_us_transaction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import VALIDATION_CODES, LongPortAPIError, LongPortTransportError, RecordError

__all__ = ["ParametersRefused", "UsHistoryEndpoint", "decode_us_page"]

log = logging.getLogger(__name__)


class ParametersRefused(Refused):
    """The US endpoint refused a call's parameters (HTTP 400 with code 400xxx, or 602001): its size, its span or its
    filters. :func:`~airflow_provider_cashflow.client.us_paging.read_us_window` tells them apart."""


def decode_us_page(answer: RawAnswer, number: int = 1) -> Page:
    """The entries of one answer (``data.items``) as :class:`UsTransaction` records, with the answer's trace id.

    :raises LongPortAPIError: the envelope carries an error code.
    :raises LongPortTransportError: the body is not the envelope, or ``items`` is not a list.
    :raises RecordError: an entry that cannot be read, named with the page and trace id.
    """
    data, trace_id = open_envelope(answer)
    items = data.get("items") if isinstance(data, Mapping) else None
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
        # what the server has shown of its undocumented behaviour, kept for its host by the process
        self.facts = facts_for(session.base_url)

    @property
    def time_field(self) -> str | None:
        """The time (``create_at`` or ``done_at``) the server's window filters on, once its answers showed it."""
        return self.facts.time_field

    def page(self, query: UsHistoryQuery, start: int, end: int, number: int, size: int) -> Page:
        """Page ``number`` (of ``size``) of the window ``start`` to ``end`` as asked, retried, as typed records.

        :raises ParametersRefused: the server refused the request's parameters (a ``size`` above its undocumented
            maximum, a window longer than its undocumented longest span, or the filters): no retry would cure it.
        """
        body = query.body(start, end, number, size)
        try:
            return self._retries.call(
                lambda: self._session.send(US_HISTORY_PATH, {}, body=body),
                lambda answer: decode_us_page(answer, number),
            )
        except LongPortAPIError as error:
            if error.retryable or not (error.code // 1000 == 400 or error.code in VALIDATION_CODES):
                raise
            trace = f", trace id {error.trace_id}" if error.trace_id else ""
            raise ParametersRefused(
                f"POST {US_HISTORY_PATH} refused the request (page_size: size={size}; the window: {end - start} "
                f"seconds from start to end; types={list(query.types)}, currency={query.currency!r}) with API error "
                f"{error.code} ({error.message!r}{trace}). A smaller page_size, a shorter window or other types / "
                "currency may be taken",
                first=start,
                last=end,
                reply=error.message,
            ) from error

    def fetch(self, query: UsHistoryQuery) -> Fetch[UsTransaction]:
        """``fetch(start, end, page, size)`` for the pager: one call for ``query``'s filters."""
        return lambda start, end, number, size: self.page(query, start, end, number, size)

    def iter_window(self, query: UsHistoryQuery, window: Window | None = None) -> Iterator[UsTransaction]:
        """Every record the server holds for ``window`` (default: the query's), read exactly whatever the server's
        order, time field, end bound, largest page and longest window, and while the history changes
        (:func:`~airflow_provider_cashflow.client.us_paging.read_us_window`); in no promised order."""
        part = query.window if window is None else window
        first, last = part.seconds_starting_in()
        if first > last:
            return  # no whole second in it: no record can be
        kept = 0
        for chunk in read_us_window(self.fetch(query), _times, first, last, self.facts, cap=query.page_size):
            kept += len(chunk)
            yield from chunk
        log.info("US history: %d records in %s (so far %s)", kept, part, self.stats.progress())

    def iter_days(self, query: UsHistoryQuery, tz: tzinfo) -> Iterator[tuple[Window, Iterator[UsTransaction]]]:
        """``(day, records of day)`` for each local day of ``tz`` in the query's window, newest first.

        Each day is read as its own window, so a record's day is the day whose reading returned it, whichever time
        field the server filters on and in whatever order it answers; records are never cut by a time of theirs.
        Each day's iterator must be consumed before the next day is taken.
        """
        for day in query.window.days(tz):
            yield day, self.iter_window(query, day)


def _times(record: UsTransaction) -> tuple[int | None, int | None]:
    return (
        None if record.create_at is None else int(record.create_at.timestamp()),
        None if record.done_at is None else int(record.done_at.timestamp()),
    )
