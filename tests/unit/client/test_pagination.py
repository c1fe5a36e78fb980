"""Paging until a short page, plainly and with the network one page ahead."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from airflow_provider_cashflow.client.pagination import iter_pages, iter_pages_pipelined


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("total,size", [(0, 5), (4, 5), (5, 5), (23, 5), (1, 1), (3, 1), (40, 2)])
def test_pages_until_a_short_page(total: int, size: int, pipelined: bool) -> None:
    data = list(range(total))
    asked: list[int] = []

    def fetch(page: int, sent: Callable[[], None] | None = None) -> list[int]:
        asked.append(page)
        return data[(page - 1) * size : page * size]

    if pipelined:
        pages = iter_pages_pipelined(fetch, lambda rows: len(rows) >= size, lambda page, rows: rows, size)
    else:
        pages = iter_pages(fetch, size)
    got = [x for rows in pages for x in rows]
    assert got == data
    assert sorted(asked) == list(range(1, total // size + 2))  # the minimum: ceil, plus one empty page if exactly full


def test_pipelined_paging_reads_at_most_one_page_ahead() -> None:
    import threading

    asked: list[int] = []
    consumed: list[int] = []
    done = threading.Event()

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        asked.append(page)
        sent()
        return [page, page]

    pages = iter_pages_pipelined(fetch, lambda rows: True, lambda page, rows: rows, 2)
    for rows in pages:
        consumed.append(rows[0])
        time.sleep(0.01)  # a slow consumer: the fetcher must wait for it, not run ahead
        assert max(asked) <= consumed[-1] + 2
        if len(consumed) == 20:
            break
    done.set()


@pytest.mark.parametrize("says_when_sent", [True, False])
def test_a_page_is_decoded_only_once_the_next_request_has_left(says_when_sent: bool) -> None:
    import threading

    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        time.sleep(0.002)  # signing and connecting
        if says_when_sent:  # a proxy connection does not say; the pager must then wait for the whole call
            with lock:
                events.append(("left", page))
            sent()
        time.sleep(0.01)  # the server's work
        return [page] * 3 if page < 6 else [page]

    def decode(page: int, rows: list[int]) -> list[int]:
        with lock:
            events.append(("decode", page))
        return rows

    got = [x for rows in iter_pages_pipelined(fetch, lambda rows: len(rows) == 3, decode, 3) for x in rows]
    assert got == [p for p in range(1, 6) for _ in range(3)] + [6]
    if says_when_sent:
        for page in range(1, 6):
            assert events.index(("left", page + 1)) < events.index(("decode", page)), events


def test_stopping_early_sends_nothing_more_and_leaves_no_fetcher_waiting() -> None:
    import threading

    asked: list[int] = []

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        asked.append(page)
        if page >= 3:
            time.sleep(0.05)  # still on its way when the caller stops
        sent()
        return [page, page]

    pages = iter_pages_pipelined(fetch, lambda rows: True, lambda page, rows: rows, 2)
    assert next(pages) == [1, 1] and next(pages) == [2, 2]
    started = time.monotonic()
    pages.close()
    assert time.monotonic() - started < 1
    assert max(asked) <= 4 and not [t for t in threading.enumerate() if t.name.startswith("longport-fetch")]
