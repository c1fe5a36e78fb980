"""Paging that stays exact while the account's history changes between calls.

An endpoint that pages by offset (``page=1, 2, ...``) drifts when a record is posted or cancelled between two
calls: every later page shifts by one, and a record is read twice or never. What an answer *does* give is one
consistent snapshot of the window it was asked for. The readers here build on that alone, and take from
each answer only the records that answer is known to hold completely. That gives, for any page size and any
amount of change during the extraction:

- a record that existed from the first call to the last comes back exactly once;
- a record posted or cancelled meanwhile comes back at most once;
- no record comes back more often than it existed (identical twins keep their multiplicity).

The readers are generic over the endpoint. ``fetch(start_s, end_s, page, size)`` makes one (retried) call
for the records whose time, in whole Unix seconds, lies between ``start_s`` and ``end_s`` and returns that
page's records as a sequence (``len`` and slicing are all that is used of it). Records must be hashable
(compared as multisets when one second is read by offset).

- :func:`time_cursor`: for an endpoint that promises newest-first order by the time it filters on (the AP
  ``GET /v1/asset/cashflow``, ordered by ``business_time``). Whether ``end_s`` is inclusive need not be known.
  It yields the records as chunks, one per answer it took records from; the caller cuts sub-second window edges.
- :func:`read_second`: one second that fills a page, read by offset until two reads agree; the time cursor and
  the US pager (:mod:`.us_paging`, for the endpoint that promises no order) both use it.

docs/paging.md explains the design and gives its measured call counts.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from operator import neg
from typing import Any, Protocol, TypeVar

from airflow_provider_cashflow.errors import LongPortError, OutOfOrderError

__all__ = [
    "Ahead",
    "Fetch",
    "SecondsOf",
    "UnsettledSecondError",
    "read_second",
    "time_cursor",
]

R = TypeVar("R")

Fetch = Callable[[int, int, int, int], Sequence[R]]
"""``fetch(start_s, end_s, page, size)``: page ``page`` (from 1) of at most ``size`` records, as one call."""

SecondsOf = Callable[[Sequence[R]], Sequence[int]]
"""The time of each record of an answer, in whole Unix seconds, in the answer's order."""


class Ahead(Protocol):
    """What lets :func:`time_cursor` send its next call before an answer's records are decoded."""

    def edges(self, page: Sequence[Any]) -> tuple[int, int, int] | None:
        """The page's record count and the seconds of its first and last records, if known without decoding it."""

    def start(self, start_s: int, end_s: int, page: int, size: int) -> None:
        """Send this call now; ``fetch`` with the same arguments takes its answer (any other discards it)."""


READS = 4  # offset reads of one crowded second before giving up: two that agree are needed
log = logging.getLogger(__name__)


class UnsettledSecondError(LongPortError):
    """One second held more records than a page, and its records changed on every offset read of it.

    Retryable: the task is retried later, when that second has settled.
    """

    retryable = True


def _when(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()


def time_cursor(
    fetch: Fetch[R],
    seconds_of: SecondsOf[R],
    first: int,
    last: int,
    size: int,
    *,
    max_size: int | None = None,
    reads: int = READS,
    ahead: Ahead | None = None,
) -> Iterator[Sequence[R]]:
    """The records of seconds ``first`` to ``last`` (both inclusive), newest first, by a cursor on their time.

    Each call asks for the newest page of what is still missing, ``[first, upper]``. A full answer holds every
    record newer than its oldest second ``t`` (the order is newest first), all from one snapshot: those are
    taken, and the next call asks for ``[first, t]``, so that second ``t``, of which the answer may hold only
    part, is read whole from the next answer. A short answer holds all that is missing, and ends it. No record
    is taken from two answers, and none is missed between them: the seconds each answer is trusted for do not
    overlap, and together they cover the window.

    ``end_s`` is asked as ``upper + 1`` and records newer than ``upper`` are dropped, which is exact whether the
    server's end bound is inclusive or not; an answer holding a record of second ``upper + 1`` shows that it is
    inclusive, and from then on ``end_s = upper`` is asked. A second holding a full page or more is read by
    offset with :func:`read_second` (first with a page of ``max_size``).

    Calls, for a history that stands still: one when the window fits in a page; else about one per page of
    records, plus one (each full answer after the first re-reads its boundary second).

    :param fetch: one call (see the module docstring).
    :param seconds_of: the time of each record of an answer; it must be the time the endpoint filters and
        orders by.
    :param first: the oldest second wanted.
    :param last: the newest second wanted.
    :param size: records per call.
    :param max_size: the endpoint's largest page, asked for a second that fills a page (default ``size``).
    :param reads: offset reads of one crowded second before :class:`UnsettledSecondError`.
    :param ahead: sends the next call while an answer is decoded, when the answer's edges alone decide it.
    :raises OutOfOrderError: an answer was not newest first, or held a record outside the asked seconds.
    """
    upper = last
    end_inclusive = False  # until an answer shows otherwise
    while True:
        asked_end = upper if end_inclusive else upper + 1
        page = fetch(first, asked_end, 1, size)
        if ahead is not None and (edges := ahead.edges(page)) is not None:
            count, newest, oldest = edges
            if count == size and oldest < newest <= upper:
                # what the loop below asks next for such a page, once it has read every record's time
                ahead.start(first, oldest if end_inclusive else oldest + 1, 1, size)
        times = _checked_times(page, seconds_of, first, asked_end)
        if times and times[0] > upper:
            end_inclusive = True  # a record of second asked_end came back
        keep_from = _first_at_or_before(times, upper)
        if len(page) < size:
            if keep_from < len(page):
                yield page[keep_from:]
            return
        oldest = times[-1]
        if oldest > upper:
            continue  # only records of the second already read came back: asked again without it
        newer_until = _first_at_or_before(times, oldest)
        if newer_until > keep_from:
            yield page[keep_from:newer_until]
            upper = oldest
        elif len(page) - keep_from < size:
            continue  # some of the page was of the newer second; asked again without it
        else:
            # the whole page is one second: more records than a page, which only offsets can reach
            hi = oldest if end_inclusive else oldest + 1
            yield read_second(fetch, oldest, hi, max_size or size, _cut_to(seconds_of, oldest, hi), reads=reads)
            if oldest == first:
                return
            upper = oldest - 1


def read_second(
    fetch: Fetch[R],
    second: int,
    asked_end: int,
    size: int,
    cut: Callable[[Sequence[R]], Sequence[R]],
    *,
    reads: int = READS,
) -> list[R]:
    """The records of one ``second`` that fills a page of ``size``: one call if they fit in it, else by offset.

    The first call asks for the second alone, with the endpoint's largest page: a short answer is one snapshot
    of the second, exact. Only a second that fills even that page is read by offset, and offsets are only exact
    while the second's records and the server's order among them hold still for a whole read. A change during a
    read shows as two reads that differ, so the second is read again until two consecutive reads hold the same
    multiset of records. What is not guaranteed there: changes during two reads in a row that happen to lose and
    duplicate the same records both times, or a server whose order inside a second changes in the same way on
    two reads in a row, would go unnoticed.

    :param asked_end: the end bound asked (``second``, or ``second + 1`` when the end may be exclusive).
    :param size: records per call: the endpoint's largest page.
    :param cut: the records of an answer that are of ``second``.
    :raises UnsettledSecondError: no two consecutive reads of ``reads`` agreed.
    """
    page = fetch(second, asked_end, 1, size)
    if len(page) < size:
        return list(cut(page))
    log.warning("second %s holds %d records or more, more than a page: it is read by offset", _when(second), size)
    previous: Counter[R] | None = None
    for attempt in range(1, reads + 1):
        records = list(cut(page))
        page_number = 1
        while len(page) >= size:
            page_number += 1
            page = fetch(second, asked_end, page_number, size)
            records += cut(page)
        current = Counter(records)
        if current == previous:
            return records
        if previous is not None:
            log.warning(
                "second %s changed while it was read by offset (read %d); reading it again", _when(second), attempt
            )
        previous = current
        if attempt < reads:
            page = fetch(second, asked_end, 1, size)
    raise UnsettledSecondError(
        f"second {_when(second)} holds {size} records or more, more than the endpoint's largest page, and they "
        f"changed on each of {reads} reads of it by offset, so they cannot be read exactly now; retry later"
    )


def _checked_times(page: Sequence[R], seconds_of: SecondsOf[R], first: int, asked_end: int) -> Sequence[int]:
    """The records' seconds, checked newest first and inside ``[first, asked_end]``."""
    times = seconds_of(page)
    if not times:
        return times
    if times[0] > asked_end or times[-1] < first:
        outside = times[0] if times[0] > asked_end else times[-1]
        raise OutOfOrderError(
            f"the API sent a record of {_when(outside)} for a call asking {_when(first)} to {_when(asked_end)}"
        )
    for newer, older in pairwise(times):
        if older > newer:
            raise OutOfOrderError(
                f"the API sent a record of {_when(older)} after one of {_when(newer)}: the newest-first order "
                "that the paging relies on is broken"
            )
    return times


def _first_at_or_before(times: Sequence[int], second: int) -> int:
    """The index of the first record at or before ``second`` in newest-first ``times`` (``len`` if none)."""
    return bisect_left(times, -second, key=neg)


def _cut_to(seconds_of: SecondsOf[R], second: int, asked_end: int) -> Callable[[Sequence[R]], Sequence[R]]:
    def cut(page: Sequence[R]) -> Sequence[R]:
        times = _checked_times(page, seconds_of, second, asked_end)
        return page[_first_at_or_before(times, second) :]

    return cut
