"""The pager against an in-memory history that changes between any two calls: the guarantee, and its cost."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_cashflow.client.paging import UnsettledSecondError, time_cursor
from airflow_provider_cashflow.errors import OutOfOrderError

FIRST, LAST = 100, 129  # the seconds wanted; the history also holds records just outside them


@dataclass(frozen=True)
class Rec:
    second: int
    payload: str
    id: int = field(compare=False)  # twins (same second and payload) are equal, as two identical API records are


class History:
    """An endpoint: newest first by second, in an order inside a second that a posting may change anywhere.

    ``changes`` are applied one before each call (``None``: no change before that call).
    """

    def __init__(self, records: list[tuple[int, str]], *, end_inclusive: bool, shuffle: bool = False) -> None:
        self.rows = [Rec(second, payload, i) for i, (second, payload) in enumerate(records)]
        self.rows.sort(key=lambda r: -r.second)
        self.next_id = len(self.rows)
        self.end_inclusive = end_inclusive
        self.changes: Iterator[tuple] = iter(())
        self.seen: list[set[int]] = []  # the ids of the wanted seconds, as each call saw them
        self.calls = 0
        self.shuffle = random.Random(7) if shuffle else None

    def apply(self, change: tuple) -> None:
        if change[0] == "post":
            _, second, payload, where = change
            record = Rec(second, payload, self.next_id)
            self.next_id += 1
            # anywhere among the records of its second: the API promises no order inside a second
            same = [i for i, r in enumerate(self.rows) if r.second == second]
            if same:
                places = [*same, same[-1] + 1]
            else:
                places = [next((i for i, r in enumerate(self.rows) if r.second < second), len(self.rows))]
            self.rows.insert(places[where % len(places)], record)
        elif self.rows:
            del self.rows[change[1] % len(self.rows)]

    def fetch(self, start: int, end: int, page: int, size: int) -> list[Rec]:
        change = next(self.changes, None)
        if change is not None:
            self.apply(change)
        self.calls += 1
        self.seen.append({r.id for r in self.rows if FIRST <= r.second <= LAST})
        rows = [
            r for r in self.rows if start <= r.second and (r.second <= end if self.end_inclusive else r.second < end)
        ]
        if self.shuffle is not None:  # a server free to order each second differently on every call
            rows.sort(key=lambda r: (-r.second, self.shuffle.random()))
        return rows[(page - 1) * size : page * size]


def seconds_of(page: Sequence[Rec]) -> list[int]:
    return [r.second for r in page]


def read_cursor(history: History, size: int, max_size: int | None = None) -> list[Rec]:
    return [r for chunk in time_cursor(history.fetch, seconds_of, FIRST, LAST, size, max_size=max_size) for r in chunk]


def assert_exact(history: History, got: list[Rec]) -> None:
    """Every record present throughout comes back once; none comes back twice or without having existed."""
    ids = [r.id for r in got]
    assert len(ids) == len(set(ids)), "a record came back twice"
    stable = set.intersection(*history.seen)
    existed = set.union(*history.seen)
    assert stable <= set(ids), f"lost {sorted(stable - set(ids))}"
    assert set(ids) <= existed, "a record that never existed in the window came back"
    assert all(FIRST <= r.second <= LAST for r in got)


def history_of(seconds: Sequence[int], **kwargs: object) -> History:
    return History([(s, "fee") for s in seconds], **kwargs)  # type: ignore[arg-type]


STILL = [(99, "x"), (130, "x")] + [(FIRST + (i * 7) % 30, "abc"[i % 3]) for i in range(45)]


@pytest.mark.parametrize("end_inclusive", [True, False])
@pytest.mark.parametrize("size", [1, 2, 7, 45, 46, 1000])
def test_a_still_history_comes_back_whole_in_order(size: int, end_inclusive: bool) -> None:
    history = History(STILL, end_inclusive=end_inclusive)
    got = read_cursor(history, size, max_size=1000)
    wanted = Counter(r for r in history.rows if FIRST <= r.second <= LAST)
    assert Counter(got) == wanted and len(got) == 45
    assert [r.second for r in got] == sorted((r.second for r in got), reverse=True)


@pytest.mark.parametrize("end_inclusive", [True, False])
def test_the_cursor_costs_one_call_for_a_window_that_fits_and_one_per_page_plus_one_otherwise(
    end_inclusive: bool,
) -> None:
    history = History(STILL, end_inclusive=end_inclusive)
    read_cursor(history, 47)  # 45 records, and one of second LAST + 1 that an inclusive end sends too
    assert history.calls == 1
    # 300 records, one per second over 300 seconds, pages of 50: a page of new records per call, plus the last
    history = history_of(range(FIRST - 200, LAST + 71), end_inclusive=end_inclusive)
    got = [r for c in time_cursor(history.fetch, seconds_of, FIRST - 200, LAST + 70, 50) for r in c]
    assert len(got) == 300
    # each full answer after the first re-reads its boundary second: 300 / 49 pages of new records, plus one
    assert history.calls == 7


def test_twins_keep_their_multiplicity_across_a_page_boundary() -> None:
    history = History([(110, "fee")] * 5 + [(111, "fee")] * 3 + [(109, "fee")] * 4, end_inclusive=True)
    got = read_cursor(history, 4)
    assert Counter(r.second for r in got) == {111: 3, 110: 5, 109: 4}
    assert_exact(history, got)


@pytest.mark.parametrize("end_inclusive", [True, False])
def test_a_second_fuller_than_a_page_is_read_with_the_largest_page(end_inclusive: bool) -> None:
    history = History([(120, "a")] * 9 + [(121, "b"), (119, "c")], end_inclusive=end_inclusive)
    got = read_cursor(history, 3, max_size=50)
    assert Counter(r.second for r in got) == {121: 1, 120: 9, 119: 1}


def test_a_second_fuller_than_the_largest_page_is_read_by_offset_twice() -> None:
    history = History([(120, "a"), (120, "b"), (120, "c")] * 4 + [(119, "d")], end_inclusive=False)
    got = read_cursor(history, 5)
    assert Counter(r.payload for r in got) == {"a": 4, "b": 4, "c": 4, "d": 1}


def test_a_crowded_second_that_changes_while_read_by_offset_is_read_again() -> None:
    history = History([(120, "a"), (120, "b"), (120, "c")] * 4, end_inclusive=True)
    # a posting during the first offset read of second 120 (the second call): the reads differ, a third agrees
    history.changes = iter([None, None, ("post", 120, "z", 0)])
    got = read_cursor(history, 5)
    assert Counter(r.payload for r in got) == {"a": 4, "b": 4, "c": 4, "z": 1}
    assert_exact(history, got)


def test_a_crowded_second_that_never_settles_is_a_retryable_error_naming_it() -> None:
    history = History([(120, "a")] * 12, end_inclusive=True)
    history.changes = iter([("post", 120, f"p{i}", 0) for i in range(100)])
    with pytest.raises(UnsettledSecondError, match="1970-01-01T00:02:00") as caught:
        read_cursor(history, 5)
    assert caught.value.retryable


def test_an_answer_out_of_order_or_outside_the_asked_seconds_is_an_error() -> None:
    with pytest.raises(OutOfOrderError, match="newest-first order"):
        list(time_cursor(lambda *_: [Rec(101, "a", 0), Rec(102, "a", 1)], seconds_of, FIRST, LAST, 10))
    with pytest.raises(OutOfOrderError, match="for a call asking"):
        list(time_cursor(lambda *_: [Rec(500, "a", 0)], seconds_of, FIRST, LAST, 10))


def test_offset_paging_drifts_where_the_cursor_does_not() -> None:
    """The same history and the same changes: plain offset paging loses and duplicates, the cursor is exact."""
    changes = [None, ("post", 128, "new", 0), ("cancel", 3), ("post", 125, "new", 0), ("cancel", 2)] * 3

    def offset_pages(history: History, size: int) -> list[Rec]:
        got, page = [], 1
        while True:
            rows = history.fetch(FIRST, LAST, page, size)
            got += rows
            if len(rows) < size:
                return got
            page += 1

    drifting = history_of(range(FIRST, LAST + 1), end_inclusive=True)
    drifting.changes = iter(changes)
    with pytest.raises(AssertionError):
        assert_exact(drifting, offset_pages(drifting, 4))
    exact = history_of(range(FIRST, LAST + 1), end_inclusive=True)
    exact.changes = iter(changes)
    assert_exact(exact, read_cursor(exact, 4))


change = st.one_of(
    st.none(),
    st.tuples(st.just("post"), st.integers(FIRST - 1, LAST + 1), st.sampled_from("ab"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 200)),
)


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.lists(st.tuples(st.integers(FIRST - 1, LAST + 1), st.sampled_from("ab")), max_size=60),
    changes=st.lists(change, max_size=40),
    size=st.integers(1, 9),
    end_inclusive=st.booleans(),
)
def test_any_interleaving_of_postings_and_cancellations_keeps_the_guarantee(
    seconds, changes, size, end_inclusive
) -> None:
    history = History(seconds, end_inclusive=end_inclusive)
    history.changes = iter(changes)
    got = read_cursor(history, size, max_size=200)  # no second outgrows the largest page here: every read is exact
    assert_exact(history, got)


@settings(max_examples=100, deadline=None)
@given(seconds=st.lists(st.integers(FIRST, LAST), max_size=60), size=st.integers(1, 9))
def test_an_order_that_changes_inside_a_second_on_every_call_does_not_matter(seconds, size) -> None:
    history = history_of(seconds, end_inclusive=False, shuffle=True)
    got = read_cursor(history, size, max_size=100)
    assert_exact(history, got)
    assert len(got) == len(seconds)


class Ahead:
    """The fetcher's side of page-ahead over a :class:`History`: every call started early is recorded."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.events: list[tuple[str, tuple[int, int, int, int]]] = []

    def edges(self, page: Sequence[Rec]) -> tuple[int, int, int] | None:
        return (len(page), page[0].second, page[-1].second) if page else None

    def start(self, start: int, end: int, page: int, size: int) -> None:
        self.events.append(("start", (start, end, page, size)))

    def fetch(self, start: int, end: int, page: int, size: int) -> list[Rec]:
        self.events.append(("fetch", (start, end, page, size)))
        return self.history.fetch(start, end, page, size)


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.lists(st.tuples(st.integers(FIRST - 1, LAST + 1), st.sampled_from("ab")), max_size=60),
    changes=st.lists(change, max_size=40),
    size=st.integers(1, 9),
    end_inclusive=st.booleans(),
)
def test_a_call_started_ahead_is_always_the_very_next_call_the_cursor_makes(
    seconds, changes, size, end_inclusive
) -> None:
    """The cursor starts a call from an answer's edges alone only when its full reading would ask that call next:
    so page-ahead never spends a call the cursor would not make, and changes nothing it reads."""
    history = History(seconds, end_inclusive=end_inclusive)
    history.changes = iter(changes)
    ahead = Ahead(history)
    got = [r for c in time_cursor(ahead.fetch, seconds_of, FIRST, LAST, size, max_size=200, ahead=ahead) for r in c]
    assert_exact(history, got)
    for (kind, call), after in zip(ahead.events, [*ahead.events[1:], ("end", None)], strict=True):
        if kind == "start":
            assert after == ("fetch", call), ahead.events
    # the same calls and records as without page-ahead
    plain = History(seconds, end_inclusive=end_inclusive)
    plain.changes = iter(changes)
    assert [r.id for r in read_cursor(plain, size, max_size=200)] == [r.id for r in got]
    assert plain.calls == history.calls


@pytest.mark.parametrize("end_inclusive", [True, False])
def test_in_a_still_history_every_call_after_the_first_is_started_ahead(end_inclusive: bool) -> None:
    """But for the answer that shows the end bound inclusive (it holds a record of the second asked as the end):
    that record is dropped, and only the full reading knows what the page holds without it."""
    history = history_of(range(FIRST - 200, LAST + 71), end_inclusive=end_inclusive)
    ahead = Ahead(history)
    got = [r for c in time_cursor(ahead.fetch, seconds_of, FIRST - 200, LAST + 70, 50, ahead=ahead) for r in c]
    assert len(got) == 300 and history.calls == 7
    kinds = [kind for kind, _ in ahead.events]
    if end_inclusive:
        assert kinds == ["fetch", "start", "fetch", "fetch"] + ["start", "fetch"] * 4
    else:
        assert kinds == ["fetch"] + ["start", "fetch"] * 6
