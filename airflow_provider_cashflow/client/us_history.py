"""The US data centre's ``POST /v1/us/assets/transaction-history``: one signed JSON call, its answer decoded, and a
window read whole through the order-free pager.

The endpoint promises no order, no total and no page-size limit, and does not say whether its window filters on
``create_at`` or ``done_at``. So nothing here cuts records by a time field: a window's records are what the server
returns for that window's seconds (:func:`~airflow_provider_cashflow.client.paging.split_until_fits` halves it until
each part fits a page), and day files are made of one such read per day (:meth:`UsHistoryEndpoint.iter_days`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import tzinfo

from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope
from airflow_provider_cashflow.client.paced_session import CallStats, PacedSession
from airflow_provider_cashflow.client.paging import Fetch, split_until_fits
from airflow_provider_cashflow.client.retry import RetryLoop
from airflow_provider_cashflow.defaults import US_HISTORY_PATH
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import UsTransaction, parse_us_transaction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortConfigError, LongPortTransportError, RecordError

__all__ = ["ParametersRefused", "UsHistoryEndpoint", "decode_us_page"]

log = logging.getLogger(__name__)


class ParametersRefused(LongPortConfigError):
    """The US endpoint refused a call's parameters (HTTP 400, code 400xxx): its size, its span or its filters.

    :param first: the first second the refused call asked for.
    :param last: the last second it asked for (inclusive).
    """

    def __init__(self, message: str, *, first: int, last: int) -> None:
        super().__init__(message)
        self.first, self.last = first, last

    @property
    def span(self) -> int:
        """The seconds the refused call asked for."""
        return self.last - self.first + 1


PROBE_SIZE = 20  # the official SDK's default size: a size the endpoint takes if it takes any


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
        # The shortest span refused so far, learnt once for the endpoint (one per hook): longer parts of any later
        # window or day are split without a call.
        self._refused_span: int | None = None

    def page(self, query: UsHistoryQuery, start: int, end: int, number: int, size: int) -> Page:
        """Page ``number`` (of ``size``) of seconds ``start`` to ``end``, both inclusive, retried, as typed records.

        :raises ParametersRefused: the server refused the request's parameters (a ``size`` above its undocumented
            maximum, or a window longer than its undocumented longest span): no retry would cure it.
        """
        body = query.body(start, end, number, size)
        try:
            return self._retries.call(
                lambda: self._session.send(US_HISTORY_PATH, {}, body=body),
                lambda answer: decode_us_page(answer, number),
            )
        except LongPortAPIError as error:
            if error.retryable or error.code // 1000 != 400:
                raise
            raise ParametersRefused(
                f"POST {US_HISTORY_PATH} refused the request (size={size}, {end - start + 1} seconds, "
                f"types={list(query.types)}, currency={query.currency!r}): {error}",
                first=start,
                last=end,
            ) from error

    def fetch(self, query: UsHistoryQuery) -> Fetch[UsTransaction]:
        """``fetch(start_s, end_s, page, size)`` for the pager: one call for ``query``'s filters."""
        return lambda start, end, number, size: self.page(query, start, end, number, size)

    def iter_window(self, query: UsHistoryQuery, window: Window | None = None) -> Iterator[UsTransaction]:
        """Every record the server holds for ``window`` (default: the query's), read exactly under a changing
        history by splitting it until each part fits a page; in no promised order.

        The endpoint's longest window is undocumented too: a window it refuses is read in halves (and every later
        part, of this window or a later one, as long as the shortest refused is split before it is asked). The
        first refusal is probed with a small size, once for the same span and once for one second, so that a
        refused size or refused filters fail at once instead of being halved.
        """
        part = query.window if window is None else window
        first, last = part.seconds_starting_in()
        if first > last:
            return  # no whole second in it: no record can be
        kept = 0
        for record in self._read(query, first, last):
            kept += 1
            yield record
        log.info("US history: %d records in %s (so far %s)", kept, part, self.stats.progress())

    def _read(self, query: UsHistoryQuery, first: int, last: int) -> Iterator[UsTransaction]:
        span = last - first + 1
        if span == 1 or self._refused_span is None or span < self._refused_span:
            taken = False
            try:
                for chunk in split_until_fits(self.fetch(query), first, last, query.page_size):
                    taken = True
                    yield from chunk
                return
            except ParametersRefused as error:
                # Only the first call of a part can be refused (later ones ask shorter spans, the same size); a
                # refusal after records were taken is not about the span, and a second is as short as it gets.
                if taken:
                    raise
                if self._refused_span is None:
                    self._diagnose(query, error)
                if error.span == 1:
                    raise self._filters_refused(query, error) from error
                self._refused_span = min(self._refused_span or error.span, error.span)
                log.warning("the US endpoint refused %d seconds at once: reading them in halves", error.span)
        middle = (first + last) // 2
        yield from self._read(query, middle + 1, last)  # the newer half first, as the pager reads
        yield from self._read(query, first, middle)

    def _diagnose(self, query: UsHistoryQuery, error: ParametersRefused) -> None:
        """Tell a refused size or refused filters from a refused span with at most two small calls, so that
        neither is halved down to one second before it fails.

        :raises ParametersRefused: the size (the same span is taken with a small size) or the filters (one second
            is refused even with a small size) were refused.
        """
        if query.page_size > PROBE_SIZE and self._accepted(query, error.first, error.last):
            raise ParametersRefused(
                f"{error}. The endpoint's largest page size is undocumented, and it takes {PROBE_SIZE} for the "
                f"same window: pass a smaller page_size (the official SDK sends {PROBE_SIZE})",
                first=error.first,
                last=error.last,
            ) from error
        if error.span > 1 and not self._accepted(query, error.last, error.last):
            raise self._filters_refused(query, error) from error

    def _accepted(self, query: UsHistoryQuery, first: int, last: int) -> bool:
        try:
            self.page(query, first, last, 1, min(PROBE_SIZE, query.page_size))
        except ParametersRefused:
            return False
        return True

    @staticmethod
    def _filters_refused(query: UsHistoryQuery, error: ParametersRefused) -> ParametersRefused:
        return ParametersRefused(
            f"{error}. Even one second with a small page was refused: the parameters (types="
            f"{list(query.types)}, currency={query.currency!r}) were refused; check them against the endpoint's "
            "documented values",
            first=error.first,
            last=error.last,
        )

    def iter_days(self, query: UsHistoryQuery, tz: tzinfo) -> Iterator[tuple[Window, Iterator[UsTransaction]]]:
        """``(day, records of day)`` for each local day of ``tz`` in the query's window, newest first.

        Each day is read as its own window, so a record's day is the day whose reading returned it, whichever time
        field the server filters on and in whatever order it answers; records are never cut by a time of theirs.
        Each day's iterator must be consumed before the next day is taken.
        """
        for day in query.window.days(tz):
            yield day, self.iter_window(query, day)
