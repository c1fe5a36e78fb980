"""The US transaction history read exactly whatever its server does, learning the server as it goes.

``POST /v1/us/assets/transaction-history`` documents neither the order of its entries, nor which of their times
(``create_at`` or ``done_at``) its window filters on, nor whether its ``end`` is inclusive, nor its largest page and
what it does above it (an error, or silently fewer entries), nor its longest window. :func:`read_us_window` assumes
none of them, and learns what the answers prove (:class:`UsServerFacts`, kept per host for the process):

- **Records come only from a complete answer**: one shorter than the size asked *and* than the longest answer the
  server has ever given. A page the server clamped below the size asked is as long as its longest answer, so it is
  never taken for the last one. The first time an answer could be either, one wider call tells them apart: more
  records than that over a wider window show the server's page is larger; as many show a clamp, and from then on
  the pager asks no more than that.
- **The time the server filters on** is learnt from answers: a record one of whose times lies outside the asked
  bounds shows the server does not filter on that one. Once it is known, every record has its filtered time.
- **The end bound**: a part ``[lo, hi]`` is asked as ``[lo, hi + 1]`` and the records of second ``hi + 1`` are
  dropped, which is exact whether ``end`` is inclusive or not; a record of second ``hi + 1`` in an answer shows it is
  inclusive, and from then on ``[lo, hi]`` is asked. (Before the field is known, a record whose two times sit on
  either side of ``hi + 1`` is settled by one call for that second alone.)
- **The largest page**: the first call asks ``cap`` (the user's ``page_size``, default 10,000). A size refused is
  told apart from a refused span by the same window with the SDK's size (20); a refused size is stepped down (to a
  size the refusal's text names, else by bisection), a refused span is remembered and longer parts are split first.
- **The order** is never trusted: a full answer only says where to split. The next part is sized from the density
  the answers showed (a full answer sorted by the filtered time gives the density of the seconds it covers; a
  complete one, the density of its part), so that it is expected to just fit a page. Calls, for a history that stands
  still: about one per page of records, plus the calls that found a part too full.
- **A second that fills a page** is read with :func:`~airflow_provider_cashflow.client.paging.read_second`.

Twins are kept: nothing is deduplicated. A record posted or cancelled meanwhile comes back at most once, since the
parts never overlap and each is taken from one answer. docs/paging.md gives the guarantee and the measured costs.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from airflow_provider_cashflow.client.paging import READS, Fetch, read_second
from airflow_provider_cashflow.errors import LongPortConfigError, LongPortError

__all__ = [
    "FIELDS",
    "TEST_SIZE",
    "Refused",
    "UnfilteredTimeError",
    "UsServerFacts",
    "facts_for",
    "forget_servers",
    "read_us_window",
]

R = TypeVar("R")

FIELDS = ("create_at", "done_at")
TimesOf = Callable[[R], tuple[int | None, int | None]]
"""A record's ``(create_at, done_at)`` in Unix seconds (``None``: absent)."""

TEST_SIZE = 1  # what a refusal is told apart with: a size any endpoint takes
WIDE_SPAN = 10 * 366 * 86_400  # the wider window that tells a clamped page from a last one
log = logging.getLogger(__name__)


class Refused(LongPortConfigError):
    """The endpoint refused a call's parameters (its size, its span or its filters).

    :param first: the first second the refused call asked for.
    :param last: the last second it asked for (its ``end``).
    """

    def __init__(self, message: str, *, first: int, last: int, reply: str = "") -> None:
        super().__init__(message)
        self.first, self.last, self.reply = first, last, reply

    @property
    def span(self) -> int:
        """``end - start`` of the refused call."""
        return self.last - self.first


class UnfilteredTimeError(LongPortError):
    """An answer held a record neither of whose times lies in the asked window: the server filters on a time it
    does not send, so no part of a window can be read exactly."""


@dataclass
class UsServerFacts:
    """What one US server has shown about itself; each fact is proven by an answer, never assumed.

    Losing a fact (two threads racing) only costs calls: every rule falls back to the careful way without it.
    """

    candidates: tuple[str, ...] = FIELDS  # the times it may filter on: one, once the answers show which
    end_inclusive: bool = False  # True once an answer held a record of its asked end second
    largest: int = 0  # the most records one answer held: its page is at least that long
    accepted: int = 0  # the largest size it answered
    refused: int | None = None  # the smallest size it refused
    hint: int | None = None  # a size its refusal named
    clamp: int | None = None  # asked more, it answered this many and a wider window no more: a silent clamp
    refused_span: int | None = None  # the shortest end - start it refused
    accepted_span: int = 0  # the longest end - start it answered
    calls: dict[str, int] = field(default_factory=dict)  # what learning cost, by kind (for the docs' figures)

    @property
    def time_field(self) -> str | None:
        """The time the server filters on, once proven."""
        return self.candidates[0] if len(self.candidates) == 1 else None

    def size(self, cap: int) -> int:
        """The size to ask next: ``cap``, or less once the server refused or clamped it."""
        size = cap if self.clamp is None else min(cap, self.clamp)
        if self.refused is None or self.refused > size:
            return size
        low = max(self.accepted, 1)
        if self.hint is not None and self.hint < self.refused:
            return max(low, self.hint)  # the size its refusal named, once taken, is its largest
        if self.refused <= low * 1.25 + 1:
            return low
        return max(low + 1, int(math.sqrt(low * self.refused)))

    def longest(self) -> int:
        """The longest ``end - start`` to ask: any, or less once the server refused a span (by bisection)."""
        refused = self.refused_span
        if refused is None:
            return 1 << 62
        low = self.accepted_span
        if refused <= low * 1.25 + 1:
            return max(low, 1)
        return max(low + 1, (low + refused) // 2)

    def spent(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1


_SERVERS: dict[str, UsServerFacts] = {}
_SERVERS_LOCK = threading.Lock()


def facts_for(host: str) -> UsServerFacts:
    """The facts learnt about the US server at ``host`` (its base URL) in this process."""
    with _SERVERS_LOCK:
        return _SERVERS.setdefault(host, UsServerFacts())


def forget_servers() -> None:
    """Forget every server's facts (a test that changes a server's behaviour under the same address)."""
    with _SERVERS_LOCK:
        _SERVERS.clear()


def read_us_window(
    fetch: Fetch[R],
    times_of: TimesOf[R],
    first: int,
    last: int,
    facts: UsServerFacts,
    *,
    cap: int,
    reads: int = READS,
) -> Iterator[list[R]]:
    """Every record whose filtered time lies in seconds ``first`` to ``last`` (both inclusive), as chunks, one per
    complete answer, newest part first (in no order inside a chunk).

    :param fetch: ``fetch(start, end, page, size)``, one call; raises :class:`Refused` for refused parameters.
    :param times_of: a record's ``(create_at, done_at)``.
    :param facts: what is known of the server; updated with what the answers show.
    :param cap: the largest size to ask.
    :param reads: offset reads of one crowded second before it is given up as unsettled.
    :raises Refused: the filters were refused (even one second with a small page).
    :raises UnfilteredTimeError: the server filters on neither time.
    """
    yield from _Reader(fetch, times_of, facts, cap, reads).window(first, last)


class _Full(Exception):
    """A part's answer was full: the records found say where to split."""

    def __init__(self, times: list[int], size: int) -> None:
        self.times, self.size = times, size


class _SpanRefused(Exception):
    pass


class _Reader(Generic[R]):
    def __init__(self, fetch: Fetch[R], times_of: TimesOf[R], facts: UsServerFacts, cap: int, reads: int) -> None:
        self.fetch, self.times_of, self.facts, self.cap, self.reads = fetch, times_of, facts, cap, reads
        self.rate: float | None = None  # records per second where the window was last read
        self.recent: deque[tuple[int, int]] = deque(maxlen=6)  # (records, seconds) of the last complete parts

    def window(self, first: int, last: int) -> Iterator[list[R]]:
        hi, span = last, last - first + 1
        while hi >= first:
            span = max(1, min(span, hi - first + 1, self._longest()))
            lo = hi - span + 1
            try:
                records = self._part(lo, hi)
            except _SpanRefused:
                span = max(1, span // 2)
                continue
            except _Full as full:
                if lo == hi:
                    yield self._crowded(lo, full.size)
                    hi, span = lo - 1, self._span_for(full.size, span)
                    continue
                span = max(1, min(self._learn_density(full.times, lo, hi, full.size), span - 1))
                continue
            if records:
                yield records
            self._learn_rate(len(records), span)
            hi, span = lo - 1, self._span_for(self.facts.size(self.cap), span)
            if hi - first + 1 <= span * 1.25:
                span = hi - first + 1  # the rest is little more than a part: one call, not two

    # one part -------------------------------------------------------------------------------------------------

    def _part(self, lo: int, hi: int) -> list[R]:
        """The records of ``[lo, hi]`` from one complete answer, or :class:`_Full` / :class:`_SpanRefused`."""
        end = hi if self.facts.end_inclusive else hi + 1
        page, size = self._ask(lo, end)
        self._learn(page, lo, end)
        count, facts = len(page), self.facts
        full = count >= size
        if not full and count and count >= facts.largest and facts.clamp is None:
            # as long as the longest answer yet: the last page, or a page clamped below the size asked
            longer = self._wider_is_longer(lo, end, size, count)
            if longer is None:
                full = True  # not told apart: read in shorter parts, whose answers will be shorter than this one
            elif not longer:
                facts.clamp = count
                log.warning(
                    "the US endpoint answered %d records where %d were asked, and no more for a wider window: it "
                    "serves at most %d a page (asked so from now on)",
                    count,
                    size,
                    count,
                )
                full = True
        facts.largest = max(facts.largest, count)
        if full:
            raise _Full(self._times(page, lo, end), count)
        return self._keep(page, lo, hi, end)

    def _ask(self, lo: int, end: int, page: int = 1) -> tuple[Sequence[R], int]:
        """One call, its refusals told apart: a refused size is stepped down, a refused span raised as such."""
        while True:
            size = self.facts.size(self.cap)
            try:
                answer = self.fetch(lo, end, page, size)
            except Refused as error:
                self._refused(error, lo, end, size)
                continue
            self.facts.accepted = max(self.facts.accepted, size)
            self.facts.accepted_span = max(self.facts.accepted_span, end - lo)
            return answer, size

    def _refused(self, error: Refused, lo: int, end: int, size: int) -> None:
        """Learn from a refusal what was refused: the size (stepped down), the span (:class:`_SpanRefused`) or the
        filters (raised)."""
        facts = self.facts
        shortest = end - lo <= (0 if facts.end_inclusive else 1)
        if size > max(TEST_SIZE, facts.accepted):
            if facts.refused is not None:
                return self._size_refused(error, size)  # sizes above a taken one were refused before: this one too
            facts.spent("size probe")  # the same window with a size any server takes: was it the size?
            try:
                self.fetch(lo, end, 1, TEST_SIZE)
            except Refused:
                pass
            else:
                facts.accepted = max(facts.accepted, TEST_SIZE)
                return self._size_refused(error, size)
        if shortest:
            raise error
        if facts.refused_span is None:
            facts.spent("span probe")
            try:
                self.fetch(end, end, 1, TEST_SIZE)
            except Refused:
                raise Refused(
                    f"{error}. Even one second with a small page was refused: the filters were refused; check them "
                    "against the endpoint's documented values",
                    first=error.first,
                    last=error.last,
                    reply=error.reply,
                ) from error
        span = end - lo
        facts.refused_span = span if facts.refused_span is None else min(facts.refused_span, span)
        log.warning("the US endpoint refused a window of %d seconds: reading shorter parts", span)
        raise _SpanRefused

    def _size_refused(self, error: Refused, size: int) -> None:
        facts = self.facts
        facts.refused = size if facts.refused is None else min(facts.refused, size)
        named = [int(n) for n in re.findall(r"\d+", error.reply) if TEST_SIZE < int(n) < size]
        facts.hint = max(named) if named else facts.hint
        log.warning(
            "the US endpoint refused size=%d (%s): page_size is above its largest page; reading with %d a page. "
            "Set page_size to the largest it takes to spare these calls",
            size,
            error.reply or error,
            facts.size(self.cap),
        )

    def _wider_is_longer(self, lo: int, end: int, size: int, count: int) -> bool | None:
        """Whether a wider window ending at ``end`` holds more than ``count`` records (the page was not clamped at
        it), or ``None`` when the server takes no window wide enough to tell."""
        facts, part = self.facts, end - lo
        while (span := min(WIDE_SPAN, facts.longest())) > part * 4 + 1:
            facts.spent("clamp probe")
            try:
                wider = self.fetch(max(0, end - span), end, 1, size)
            except Refused:
                facts.refused_span = span if facts.refused_span is None else min(facts.refused_span, span)
                continue
            facts.accepted_span = max(facts.accepted_span, span)
            facts.largest = max(facts.largest, len(wider))
            self._learn(wider, max(0, end - span), end)
            return len(wider) > count
        return None

    def _crowded(self, second: int, size: int) -> list[R]:
        """A second that fills a page of ``size`` (the length of its full answer: a page as long is full, even
        where more was asked and the server may have clamped it): read alone, by offset if even that is full."""
        end = second if self.facts.end_inclusive else second + 1
        return read_second(
            self.fetch, second, end, size, lambda page: self._keep(page, second, second, end), reads=self.reads
        )

    # what the answers show ------------------------------------------------------------------------------------

    def _learn(self, page: Sequence[R], lo: int, end: int) -> None:
        """The fields and the end bound that ``page``, the answer for ``[lo, end]``, proves."""
        facts = self.facts
        candidates = _consistent(facts.candidates, page, self.times_of, lo, end)
        if not candidates and facts.candidates != FIELDS:
            candidates = _consistent(FIELDS, page, self.times_of, lo, end)  # the server changed: learn it anew
        if not candidates:
            raise UnfilteredTimeError(
                f"the US endpoint answered a call for {lo} to {end} (Unix seconds) with an entry neither of whose "
                "times (create_at, done_at) lies inside it: it filters on a time it does not send, so a window "
                "cannot be read exactly. Report it to LongPort with the trace id of the call"
            )
        if candidates != facts.candidates:
            facts.candidates = candidates
            if facts.time_field:
                log.info("the US endpoint filters its window on %s", facts.time_field)
        index = FIELDS.index(facts.time_field) if facts.time_field else None
        served_end = index is not None and any(self.times_of(record)[index] == end for record in page)
        if served_end and not facts.end_inclusive and end > lo:
            facts.end_inclusive = True
            log.info("the US endpoint's end bound is inclusive")

    def _keep(self, page: Sequence[R], lo: int, hi: int, end: int, *, probed: bool = False) -> list[R]:
        """The records of ``page`` (the answer for ``[lo, end]``) whose filtered time lies in ``[lo, hi]``."""
        if end == hi:
            return list(page)
        index = FIELDS.index(self.facts.time_field) if self.facts.time_field else None
        if index is not None:
            return [r for r in page if (self.times_of(r)[index] or 0) <= hi]
        kept, unsure = [], []
        for record in page:
            possible = _possible(self.facts.candidates, self.times_of(record), lo, end)
            if all(t <= hi for t in possible):
                kept.append(record)
            elif possible != {end}:
                unsure.append(record)  # one time in [lo, hi], the other at the end second: which is filtered?
        if not unsure:
            return kept
        if probed:
            # The end second alone did not show them (it would have, were they of it): their filtered time is the
            # other one, inside [lo, hi]. Cancelled meanwhile instead, they did not exist throughout: at most once.
            return kept + unsure
        self.facts.spent("time-field probe")
        # the end second alone, read whole: with a page the server has served in full (never clamped), by offset
        # if even that is full, so that a record's absence from it means something
        size = max(1, min(self.facts.size(self.cap), self.facts.largest))

        def learnt(answer: Sequence[R]) -> Sequence[R]:
            self._learn(answer, end, end)
            return answer

        answer = read_second(self.fetch, end, end, size, learnt, reads=self.reads)
        if answer:
            self.facts.end_inclusive = True  # [end, end] answered: under an exclusive end it would be empty
        return self._keep(page, lo, hi, end, probed=True)

    def _times(self, page: Sequence[R], lo: int, end: int) -> list[int]:
        """The filtered time of each record of a full answer (an earliest possible one, before it is known)."""
        index = FIELDS.index(self.facts.time_field) if self.facts.time_field else None
        if index is not None:
            return [self.times_of(r)[index] or lo for r in page]
        return [min(_possible(self.facts.candidates, self.times_of(r), lo, end) or {lo}) for r in page]

    # where to split --------------------------------------------------------------------------------------------

    def _learn_density(self, times: list[int], lo: int, hi: int, size: int) -> int:
        """The density a full answer of ``[lo, hi]`` shows, and the seconds of the next part to ask.

        If it holds the newest records (sorted newest first by the filtered time), the seconds after its oldest
        likely hold one page less the oldest second's records: they are asked next. Oldest first, it gives the
        density of the seconds it covers. Otherwise it says only that the part holds ``size`` records or more.
        """
        seconds = sorted(set(times))
        if len(seconds) == 1:  # one second holds them all: what is newer, then that second alone
            return hi - seconds[0]
        if len(seconds) >= 3 and times == sorted(times, reverse=True):
            oldest = max(lo, seconds[0])
            self.rate = size / max(1, hi - oldest + 1)
            self.recent.clear()
            return hi - oldest
        if len(seconds) >= 3 and times == sorted(times):
            self.rate = size / max(1, min(hi, seconds[-1]) - lo + 1)
            self.recent.clear()
        elif not self.recent:
            self.rate = 6 * size / (hi - lo + 1)  # no part read whole yet: a far shorter one next
        else:
            # a part expected to fit did not: chance, or denser seconds; it counts as a little more than a page
            self.recent.append((int(size * 1.2) + 1, hi - lo + 1))
            self.rate = sum(c for c, _ in self.recent) / sum(s for _, s in self.recent)
        return self._span_for(size, hi - lo + 1)

    def _learn_rate(self, count: int, span: int) -> None:
        """A complete answer: ``count`` records in ``span`` seconds, pooled with the last few parts read."""
        self.recent.append((count, span))
        counted = sum(c for c, _ in self.recent)
        if counted:
            self.rate = counted / sum(s for _, s in self.recent)
        elif self.rate:
            self.rate /= 4  # nothing there: longer parts next

    def _span_for(self, size: int, span: int) -> int:
        """Seconds expected to hold a little less than a page: what a page holds, less a margin for chance."""
        if not self.rate:
            return span * 4
        target = max(size * 0.5, size - 1.5 * math.sqrt(size))
        return max(1, int(min(target / self.rate, 1 << 62)))

    def _longest(self) -> int:
        """The most seconds a part may span so that its call is not refused."""
        return max(1, self.facts.longest() - (0 if self.facts.end_inclusive else 1))


def _consistent(
    candidates: tuple[str, ...], page: Sequence[R], times_of: TimesOf[R], lo: int, end: int
) -> tuple[str, ...]:
    kept = []
    for name in candidates:
        index = FIELDS.index(name)
        if all((t := times_of(record)[index]) is not None and lo <= t <= end for record in page):
            kept.append(name)
    return tuple(kept)


def _possible(candidates: tuple[str, ...], times: tuple[int | None, int | None], lo: int, end: int) -> set[int]:
    """The filtered times a record of an answer for ``[lo, end]`` may have."""
    return {t for name in candidates if (t := times[FIELDS.index(name)]) is not None and lo <= t <= end}
