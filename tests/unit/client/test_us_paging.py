"""The US pager against an in-memory server of every undocumented behaviour (order, filtered time, end bound, a page
clamped or refused above its maximum), its history changing between any two calls: the guarantee, and its cost."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_cashflow.client.us_paging import (
    FIELDS,
    Refused,
    UnfilteredTimeError,
    UsServerFacts,
    read_us_window,
)

FIRST, LAST = 1000, 1299  # the seconds the property test wants: few, so that changes meet the records
MONTH = (1_793_491_200, 1_793_491_200 + 30 * 86_400 - 1)  # the seconds of the cost tests: a month


@dataclass(frozen=True)
class Rec:
    create_at: int
    done_at: int
    payload: str
    id: int = field(compare=False)  # twins are equal, as two identical API records are


def times_of(record: Rec) -> tuple[int, int]:
    return record.create_at, record.done_at


class Server:
    """Filters on ``time_field``; ``end`` inclusive or not; answers ``order`` (newest, oldest, shuffled: one fixed
    order); above ``max_size`` it clamps silently (``clamp``) or refuses; ``changes`` apply one before each call."""

    def __init__(
        self,
        records: list[tuple[int, int, str]],
        *,
        time_field: str = "create_at",
        end_inclusive: bool = True,
        order: str = "newest",
        max_size: int = 10_000,
        clamp: bool = False,
        max_span: int | None = None,
        window: tuple[int, int] = (FIRST, LAST),
    ) -> None:
        self.first, self.last = window
        self.rows = [Rec(c, d, p, i) for i, (c, d, p) in enumerate(records)]
        self.next_id = len(self.rows)
        self.index = FIELDS.index(time_field)
        self.end_inclusive, self.order, self.max_size, self.clamp, self.max_span = (
            end_inclusive,
            order,
            max_size,
            clamp,
            max_span,
        )
        self.changes: Iterator[tuple | None] = iter(())
        self.seen: list[set[int]] = []  # ids of the wanted records, as each call saw them
        self.calls: list[tuple[int, int, int, int]] = []

    def time(self, record: Rec) -> int:
        return times_of(record)[self.index]

    def apply(self, change: tuple) -> None:
        if change[0] == "post":
            _, second, settle, payload = change
            record = Rec(second, second + settle, payload, self.next_id)
            self.next_id += 1
            self.rows.append(record)
        elif self.rows:
            del self.rows[change[1] % len(self.rows)]

    def fetch(self, start: int, end: int, page: int, size: int) -> list[Rec]:
        change = next(self.changes, None)
        if change is not None:
            self.apply(change)
        self.calls.append((start, end, page, size))
        self.seen.append({r.id for r in self.rows if self.first <= self.time(r) <= self.last})
        if size > self.max_size and not self.clamp:
            raise Refused("size refused", first=start, last=end, reply=f"size must be 1 to {self.max_size}")
        if self.max_span is not None and end - start > self.max_span:
            raise Refused("span refused", first=start, last=end, reply="span")
        size = min(size, self.max_size)
        rows = [
            r
            for r in self.rows
            if start <= self.time(r) and (self.time(r) <= end if self.end_inclusive else self.time(r) < end)
        ]
        if self.order == "newest":
            rows.sort(key=lambda r: -self.time(r))
        elif self.order == "oldest":
            rows.sort(key=self.time)
        else:
            rows.sort(key=lambda r: hash((r.id, 7)) % 1_000_003)
        return rows[(page - 1) * size : page * size]

    def want(self) -> Counter:
        return Counter(r for r in self.rows if self.first <= self.time(r) <= self.last)


def read(server: Server, cap: int = 10_000, facts: UsServerFacts | None = None) -> list[Rec]:
    facts = facts or UsServerFacts()
    chunks = read_us_window(server.fetch, times_of, server.first, server.last, facts, cap=cap)
    return [r for chunk in chunks for r in chunk]


def assert_exact(server: Server, got: list[Rec]) -> None:
    """Every record present throughout comes back once; none twice, none that never existed in the window."""
    ids = [r.id for r in got]
    assert len(ids) == len(set(ids)), "a record came back twice"
    stable = set.intersection(*server.seen)
    existed = set.union(*server.seen)
    assert stable <= set(ids), f"lost {sorted(stable - set(ids))}"
    assert set(ids) <= existed, "a record that never existed in the window came back"


def history(n: int, seed: int = 1, window: tuple[int, int] = (FIRST, LAST)) -> list[tuple[int, int, str]]:
    """``n`` records over the window and just outside it; some done long after creation, some twins, some on the
    window's edges."""
    rng = random.Random(seed)
    first, last = window
    margin, settle = (20, 40) if last - first < 1000 else (86_400, 2 * 86_400)
    rows = []
    for i in range(n):
        created = rng.randint(first - margin, last + margin)
        if i % 17 == 0:
            created = rng.choice([first, last, last + 1, first - 1])
        rows.append((created, created + rng.choice([0, 0, 1, settle]), "abc"[i % 3]))
    rows += rows[:5]  # twins
    return rows


BEHAVIOURS = list(
    itertools.product(["newest", "oldest", "shuffled"], FIELDS, [True, False], ["none", "clamp", "refuse"])
)


@pytest.mark.parametrize(("order", "time_field", "end_inclusive", "limit"), BEHAVIOURS)
def test_a_still_history_comes_back_whole_under_every_behaviour(order, time_field, end_inclusive, limit) -> None:
    server = Server(
        history(1731, window=MONTH),
        time_field=time_field,
        end_inclusive=end_inclusive,
        order=order,
        max_size=10_000 if limit == "none" else 50,
        clamp=limit == "clamp",
        window=MONTH,
    )
    facts = UsServerFacts()
    got = read(server, facts=facts)
    assert Counter(got) == server.want() and len(got) > 1500
    assert facts.time_field == time_field
    # The floor is 1.5 x the pages of records plus one; 4 of these 72 cases take one call more (make bench gives
    # the figures). A fresh server costs at most 3 calls more to learn.
    pages = math.ceil(len(got) / server.max_size) if limit != "none" else 1
    assert len(server.calls) <= 1.5 * pages + 2 + 3, server.calls
    server.calls.clear()
    assert Counter(read(server, facts=facts)) == server.want()
    assert len(server.calls) <= 1.5 * pages + 2, server.calls


@pytest.mark.parametrize("order", ["newest", "oldest", "shuffled"])
def test_a_window_that_fits_a_page_costs_one_call_once_the_server_is_known(order) -> None:
    facts = UsServerFacts()
    server = Server(history(400), order=order, end_inclusive=False)
    read(server, facts=facts)  # learns the server
    small = Server(history(40, seed=2), order=order, end_inclusive=False)
    got = read(small, facts=facts)
    assert Counter(got) == small.want()
    assert len(small.calls) == 1


def test_a_clamped_page_is_not_taken_for_the_last() -> None:
    server = Server(history(400), max_size=50, clamp=True)
    facts = UsServerFacts()
    got = read(server, facts=facts)
    assert Counter(got) == server.want()
    assert facts.clamp == 50 and facts.time_field == "create_at"


def test_a_refused_size_is_stepped_down_to_the_one_the_refusal_names() -> None:
    server = Server(history(400), max_size=30)
    facts = UsServerFacts()
    assert Counter(read(server, facts=facts)) == server.want()
    assert facts.refused == 10_000 and facts.size(10_000) == 30
    assert [c[3] for c in server.calls[:3]] == [10_000, 1, 30]


def test_a_refused_span_is_read_in_shorter_parts() -> None:
    server = Server(history(400), max_span=50)
    facts = UsServerFacts()
    assert Counter(read(server, facts=facts)) == server.want()
    assert facts.refused_span is not None and facts.refused_span <= 299
    assert all(end - start <= 50 for start, end, *_ in server.calls[-5:])


def test_refused_filters_fail_at_once() -> None:
    def fetch(start: int, end: int, page: int, size: int) -> list[Rec]:
        raise Refused("bad currency", first=start, last=end)

    with pytest.raises(Refused, match="filters were refused"):
        list(read_us_window(fetch, times_of, FIRST, LAST, UsServerFacts(), cap=100))


def test_a_server_that_filters_on_neither_time_is_an_error() -> None:
    def fetch(start: int, end: int, page: int, size: int) -> list[Rec]:
        return [Rec(5, 6, "x", 0)]

    with pytest.raises(UnfilteredTimeError, match="neither of whose times"):
        list(read_us_window(fetch, times_of, FIRST, LAST, UsServerFacts(), cap=100))


def test_a_second_holding_more_than_a_page_is_read_whole() -> None:
    server = Server([(1100, 1100, "a")] * 70 + history(100), max_size=30, clamp=True)
    got = read(server)
    assert Counter(got) == server.want()


change = st.one_of(
    st.none(),
    st.tuples(st.just("post"), st.integers(FIRST - 2, LAST + 2), st.sampled_from([0, 1, 50]), st.sampled_from("ab")),
    st.tuples(st.just("cancel"), st.integers(0, 500)),
)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 1000),
    n=st.integers(0, 120),
    changes=st.lists(change, max_size=40),
    order=st.sampled_from(["newest", "oldest", "shuffled"]),
    time_field=st.sampled_from(FIELDS),
    end_inclusive=st.booleans(),
    max_size=st.integers(2, 40),
    clamp=st.booleans(),
    max_span=st.sampled_from([None, 40]),
)
def test_any_interleaving_of_postings_and_cancellations_keeps_the_guarantee(
    seed, n, changes, order, time_field, end_inclusive, max_size, clamp, max_span
) -> None:
    server = Server(
        history(n, seed),
        time_field=time_field,
        end_inclusive=end_inclusive,
        order=order,
        max_size=max_size,
        clamp=clamp,
    )
    server.changes = iter(changes)
    got = read(server, cap=200)
    assert_exact(server, got)
