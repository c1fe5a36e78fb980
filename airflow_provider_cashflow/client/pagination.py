"""Page numbering for an API that has no total and no has-more flag: ask for the next page until one is short."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["iter_pages", "iter_pages_pipelined"]

T = TypeVar("T")
R = TypeVar("R")

_LEFT = threading.Event()  # what a request that will never be sent answers to "has it left?"
_LEFT.set()


def iter_pages(fetch: Callable[[int], Sequence[T]], page_size: int, first_page: int = 1) -> Iterator[Sequence[T]]:
    """Yield ``fetch(page)`` for page 1, 2, ... and stop after the first page shorter than ``page_size``.

    An empty page at the end is fetched only when the last full page happened to be exactly full.
    """
    page = first_page
    while True:
        rows = fetch(page)
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        page += 1


def iter_pages_pipelined(
    fetch_raw: Callable[[int, Callable[[], None]], R],
    is_full: Callable[[R], bool],
    decode: Callable[[int, R], Sequence[T]],
    page_size: int,
    first_page: int = 1,
) -> Iterator[Sequence[T]]:
    """Like :func:`iter_pages`, with the network one page ahead of the decoding.

    ``fetch_raw(page, sent)`` requests and receives a page and calls ``sent()`` once its request has left (or
    must wait for the rate limit). As soon as page n's raw body looks full, the fetcher requests page n+1, and
    hands page n over only after n+1's request has left: decoding holds the GIL for a whole page, and a sender
    that has to win it back for every step before its socket write loses ~20 ms a page. The server's work on
    n+1 then overlaps this thread's ``decode(n, raw)`` and the caller's work. The decision to stop still rests
    on the decoded page, so no page is requested that the plain loop would not request.
    """
    # two workers: the one holding page n back until page n+1's request, which the other one sends, has left
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="longport-fetch") as pool:
        futures: dict[int, Future[R]] = {}
        sent: dict[int, threading.Event] = {}
        lock = threading.Lock()
        page = first_page  # the page this thread is decoding or handing out
        stopped = False

        def request(number: int) -> threading.Event:
            with lock:
                if stopped:
                    return _LEFT
                if number not in futures:
                    sent[number] = threading.Event()
                    futures[number] = pool.submit(fetch_ahead, number, sent[number])
                return sent[number]

        def fetch_ahead(number: int, has_left: threading.Event) -> R:
            try:
                raw = fetch_raw(number, has_left.set)
            finally:
                has_left.set()
            # at most one page beyond the one being consumed: memory stays a few pages, whatever the total
            if is_full(raw) and number <= page + 1:
                request(number + 1).wait()
            return raw

        try:
            request(page)
            while True:
                rows = decode(page, futures.pop(page).result())
                full = len(rows) >= page_size
                if full:
                    request(page + 1)
                if rows:
                    yield rows
                if not full:
                    return
                page += 1
        finally:
            # after a body that looked full but was not, or a caller that stopped early: nothing more is sent,
            # and no fetcher is left waiting for a request that will not leave
            with lock:
                stopped = True
                for number, late in futures.items():
                    late.cancel()
                    sent[number].set()
