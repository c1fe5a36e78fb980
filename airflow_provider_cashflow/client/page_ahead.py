"""The pager's next call on its way while the page before it is decoded: the server works on one page while the
client decodes the last, instead of each waiting on the other.

The time cursor knows its next call from an answer's edges (how many records, the seconds of the first and the
last), which a pass over the body that builds nothing gives in a tenth of the decoding time. That call is sent
at once on a thread of its own, which only waits for its turn, sends and reads; when the cursor then asks for it,
the answer is checked, retried and decoded as any other's. A call the cursor does not ask after all (the decoded
page disagreed with its edges, or the caller stopped reading) is waited for and dropped: it costs a call of the
rate budget, never a record. Exactness is untouched: the cursor uses an answer only for the very call it asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.paced_session import CallStats

__all__ = ["CursorAhead", "PageAhead"]

log = logging.getLogger(__name__)

Send = Callable[[Mapping[str, str], Callable[[], None]], RawAnswer]
"""``send(params, on_turn)``: one paced round trip, ``on_turn()`` called as it is about to go out."""


class PageAhead:
    """At most one call sent ahead, on one thread of the client's; nothing else is sent while it is on its way.

    :param send: the client's paced round trip.
    :param stats: counts the calls taken (``calls_ahead``) and dropped (``calls_dropped``).
    """

    def __init__(self, send: Send, stats: CallStats) -> None:
        self._send = send
        self._stats = stats
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[Mapping[str, str], Future[RawAnswer]] | None = None

    def start(self, params: Mapping[str, str]) -> None:
        """Send the call with ``params`` now; returns once it has its turn and goes out (or has failed)."""
        self.drop()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="longport-page-ahead")
        going = threading.Event()
        future = self._pool.submit(self._send, params, going.set)
        future.add_done_callback(lambda _: going.set())
        self._pending = (params, future)
        # The decoding that follows holds the interpreter for its 11 ms without a break: the thread must be past
        # the rate limiter and into the send, where it lets go of the interpreter, before it starts.
        going.wait()

    def take(self, params: Mapping[str, str]) -> RawAnswer | None:
        """The answer of the call sent ahead if it was this very call (raising what it raised), else ``None``."""
        if self._pending is None or self._pending[0] != params:
            self.drop()
            return None
        future = self._pending[1]
        self._pending = None
        self._stats.add(calls_ahead=1)
        return future.result()

    def drop(self) -> None:
        """Wait for a call sent ahead that no one will take, and forget its answer."""
        if self._pending is None:
            return
        params, future = self._pending
        self._pending = None
        wait([future])
        self._stats.add(calls_dropped=1)
        log.debug("a call sent ahead was not asked for after all (%s): its answer is dropped", dict(params))

    def close(self) -> None:
        self.drop()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class CursorAhead:
    """The time cursor's :class:`~airflow_provider_cashflow.client.paging.Ahead` for one query.

    :param page_ahead: the client's.
    :param params_of: a call's query parameters from the cursor's ``(start_s, end_s, page, size)``.
    :param edges_of: a page's count and first and last seconds, when known before it is decoded.
    """

    def __init__(
        self,
        page_ahead: PageAhead,
        params_of: Callable[[int, int, int, int], Mapping[str, str]],
        edges_of: Callable[[Sequence[Any]], tuple[int, int, int] | None],
    ) -> None:
        self._page_ahead = page_ahead
        self._params_of = params_of
        self.edges = edges_of

    def start(self, start_s: int, end_s: int, page: int, size: int) -> None:
        self._page_ahead.start(self._params_of(start_s, end_s, page, size))
