"""The HTTP client of one account: one session, signed calls, pacing, retries, and both endpoints on them: the AP
data centre's ``GET /v1/asset/cashflow`` (paged here) and the US one's transaction history (:attr:`us_history`).

It knows nothing of Airflow, so the benchmarks and the sandbox tests can use it bare; the hook builds it
from a connection. It pages a window with :func:`~airflow_provider_cashflow.client.paging.time_cursor`, over:

- :mod:`~airflow_provider_cashflow.client.paced_session`: one paced, signed round trip;
- :mod:`~airflow_provider_cashflow.client.retry`: one call retried within its bounds;
- :mod:`~airflow_provider_cashflow.client.ap_cashflow`: the endpoint's parameters, page decoding, the window cut;
- :mod:`~airflow_provider_cashflow.client.page_ahead`: the cursor's next call sent while a page is decoded;
- :mod:`~airflow_provider_cashflow.client.us_history`: the US endpoint, on the same session, retries and counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence

import requests

from airflow_provider_cashflow.client.ap_cashflow import (
    cash_flow_params,
    checked_page,
    cut_to_window,
    page_edges,
    seconds_of,
)
from airflow_provider_cashflow.client.auth import OAuthRefresher
from airflow_provider_cashflow.client.envelope import Page, RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.client.paced_session import CallStats, PacedSession
from airflow_provider_cashflow.client.page_ahead import CursorAhead, PageAhead
from airflow_provider_cashflow.client.paging import time_cursor
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryBounds, RetryLoop
from airflow_provider_cashflow.client.us_history import UsHistoryEndpoint
from airflow_provider_cashflow.defaults import CASHFLOW_PATH, MAX_PAGE_SIZE, TIMEOUT
from airflow_provider_cashflow.domain.models import CashFlow
from airflow_provider_cashflow.domain.query import CashFlowQuery

__all__ = ["LongPortClient"]

log = logging.getLogger(__name__)


class LongPortClient:
    """Calls the cash-flow endpoint with retries and pacing, and pages through a window.

    :param base_url: scheme and host, e.g. ``https://openapi.longportapp.com``.
    :param auth: a :class:`~airflow_provider_cashflow.client.auth.SignatureAuth` or ``BearerAuth``.
    :param limiter: the rate limiter shared by every client of the same account.
    :param retry_bounds: bounds of retries for one call.
    :param timeout: connect and read timeout in seconds for one attempt.
    :param refresher: OAuth refresher used once when the token has expired (bearer mode only).
    :param on_new_secret: called with every secret the client derives (a refreshed token), to mask it.
    :param ca_bundle: PEM file (or ``c_rehash`` folder) of the CAs to trust instead of the default store, e.g. a
        corporate proxy's; ``None`` keeps the default (certifi, or ``REQUESTS_CA_BUNDLE`` when set).
        Certificate verification is always on, and plain ``http://`` is refused for any host but loopback.
    """

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase,
        *,
        limiter: RateLimiter | None = None,
        retry_bounds: RetryBounds | None = None,
        timeout: float = TIMEOUT,
        refresher: OAuthRefresher | None = None,
        on_new_secret: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ca_bundle: str | None = None,
    ):
        self.stats = CallStats()
        self.paced = PacedSession(base_url, auth, limiter or RateLimiter(), timeout, self.stats, ca_bundle=ca_bundle)
        self.refresher = refresher
        self._on_new_secret = on_new_secret or (lambda _value: None)
        self.retries = RetryLoop(
            retry_bounds or RetryBounds(),
            self.paced.limiter,
            self.stats,
            refresh_token=self._refresh_token if refresher is not None else None,
            sleep=sleep,
        )
        self.us_history = UsHistoryEndpoint(self.paced, self.retries, self.stats)
        self.page_ahead = PageAhead(
            lambda params, on_turn: self.paced.send(CASHFLOW_PATH, params, on_turn=on_turn), self.stats
        )

    @property
    def retry_bounds(self) -> RetryBounds:
        return self.retries.policy

    @retry_bounds.setter
    def retry_bounds(self, policy: RetryBounds) -> None:
        self.retries.policy = policy

    def close(self) -> None:
        self.page_ahead.close()
        self.paced.close()

    def __enter__(self) -> LongPortClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _refresh_token(self) -> None:
        assert self.refresher is not None
        token = self.refresher.refresh(self.paced.session, self.paced.timeout)
        self._on_new_secret(token)
        self.paced.auth.access_token = token  # type: ignore[attr-defined]
        self.stats.add(token_refreshes=1)
        log.info("The OAuth access token had expired and was refreshed")

    # the endpoint ----------------------------------------------------------------------------------------

    def get_cash_flow_page(self, query: CashFlowQuery, page: int = 1) -> Page:
        """Page ``page`` of ``query``, retried, as the API sent it: raw records, not cut to the window."""
        params = cash_flow_params(query, page)

        def decode(answer: RawAnswer) -> Page:
            data, trace_id = open_envelope(answer)
            return Page.of(page_rows(data, answer.path, trace_id), trace_id)

        return self.retries.call(lambda: self.paced.send(CASHFLOW_PATH, params), decode)

    def iter_cash_flows(self, query: CashFlowQuery) -> Generator[CashFlow, None, None]:
        """Every record of ``query`` inside its window, newest first, exact while the history changes."""

        def params_of(start_time: int, end_time: int, page: int, size: int) -> dict[str, str]:
            return cash_flow_params(query, page, seconds=(start_time, end_time), size=size)

        def fetch(start_time: int, end_time: int, page: int, size: int) -> Sequence[CashFlow]:
            params = params_of(start_time, end_time, page, size)
            return self.retries.call(
                lambda: self.page_ahead.take(params) or self.paced.send(CASHFLOW_PATH, params),
                lambda answer: checked_page(answer, params, self.stats),
            )

        first, last = query.window.seconds()
        ahead = CursorAhead(self.page_ahead, params_of, page_edges)
        chunks = time_cursor(fetch, seconds_of, first, last, query.page_size, max_size=MAX_PAGE_SIZE, ahead=ahead)
        return cut_to_window(chunks, query.window, self.stats)
