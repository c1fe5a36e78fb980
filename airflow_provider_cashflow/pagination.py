"""Page numbering for an API that has no total and no has-more flag: ask for the next page until one is short."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["iter_pages", "MAX_PAGE_SIZE", "DEFAULT_PAGE_SIZE", "validate_page_size"]

T = TypeVar("T")

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE  # fewest calls under a 30-calls-per-30-s budget


def validate_page_size(page_size: int | None) -> int:
    if page_size is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise LongPortConfigError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


def iter_pages(
    fetch: Callable[[int], Sequence[T]], page_size: int, first_page: int = 1, *, prefetch: bool = False
) -> Iterator[Sequence[T]]:
    """Yield ``fetch(page)`` for page 1, 2, ... and stop after the first page shorter than ``page_size``.

    An empty page at the end is fetched only when the last full page happened to be exactly full.
    With ``prefetch``, the next page is requested as soon as a full page arrives, so the network wait for
    page n+1 overlaps the caller's work on page n; it never asks for a page the plain loop would not.
    """
    if not prefetch:
        page = first_page
        while True:
            rows = fetch(page)
            if rows:
                yield rows
            if len(rows) < page_size:
                return
            page += 1
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="longport-prefetch") as pool:
        page = first_page
        pending = pool.submit(fetch, page)
        while True:
            rows = pending.result()
            full = len(rows) >= page_size
            if full:
                page += 1
                pending = pool.submit(fetch, page)
            if rows:
                yield rows
            if not full:
                return
