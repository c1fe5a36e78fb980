"""The HTTP client for ``GET /v1/asset/cashflow``: one session, signed calls, pacing, retries, paging.

It knows nothing of Airflow, so the benchmarks and the sandbox tests can use it bare; the hook builds it
from a connection. Each concern is a module of its own; this class only wires them together:

- :mod:`~airflow_provider_cashflow.client.paced_session`: one paced, signed round trip;
- :mod:`~airflow_provider_cashflow.client.envelope`: the answer's JSON envelope, opened;
- :mod:`~airflow_provider_cashflow.client.retry_loop`: one call retried under the retry policy;
- :mod:`~airflow_provider_cashflow.client.cashflows`: the endpoint's parameters, page decoding and paging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import requests

from airflow_provider_cashflow.client.auth import OAuthRefresher
from airflow_provider_cashflow.client.cashflows import CashFlowEndpoint
from airflow_provider_cashflow.client.envelope import Page, open_envelope
from airflow_provider_cashflow.client.paced_session import PacedSession
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryPolicy
from airflow_provider_cashflow.client.retry_loop import RetryLoop
from airflow_provider_cashflow.client.stats import CallStats
from airflow_provider_cashflow.defaults import CASHFLOW_PATH, TIMEOUT
from airflow_provider_cashflow.domain.models import CashFlow
from airflow_provider_cashflow.domain.query import CashFlowQuery

__all__ = ["CASHFLOW_PATH", "CallStats", "LongPortClient"]

log = logging.getLogger(__name__)


class LongPortClient:
    """Calls the cash-flow endpoint with retries and pacing, and pages through a window.

    :param base_url: scheme and host, e.g. ``https://openapi.longportapp.com``.
    :param auth: a :class:`~airflow_provider_cashflow.client.auth.SignatureAuth` or ``BearerAuth``.
    :param limiter: the rate limiter shared by every client of the same account.
    :param retry_policy: bounds of retries for one call.
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
        retry_policy: RetryPolicy | None = None,
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
            retry_policy or RetryPolicy(),
            self.paced.limiter,
            self.stats,
            refresh_token=self._refresh_token if refresher is not None else None,
            sleep=sleep,
        )
        self.endpoint = CashFlowEndpoint(self.paced, self.retries, self.stats)

    @property
    def base_url(self) -> str:
        return self.paced.base_url

    @property
    def auth(self) -> requests.auth.AuthBase:
        return self.paced.auth

    @property
    def limiter(self) -> RateLimiter:
        return self.paced.limiter

    @property
    def session(self) -> requests.Session:
        return self.paced.session

    @property
    def timeout(self) -> float:
        return self.paced.timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.retries.policy

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy) -> None:
        self.retries.policy = policy

    def close(self) -> None:
        self.paced.close()

    def __enter__(self) -> LongPortClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, str]) -> tuple[Any, str | None]:
        """GET ``path`` with retries; the envelope's ``data`` and the ``x-trace-id`` of the answer that carried it."""
        return self.retries.call(lambda: self.paced.send(path, params), open_envelope)

    def _refresh_token(self) -> None:
        assert self.refresher is not None
        token = self.refresher.refresh(self.paced.session, self.paced.timeout)
        self._on_new_secret(token)
        self.paced.auth.access_token = token  # type: ignore[attr-defined]
        self.stats.add(token_refreshes=1)
        log.info("The OAuth access token had expired and was refreshed")

    # the endpoint ----------------------------------------------------------------------------------------

    def get_cash_flow_page(self, query: CashFlowQuery, page: int = 1) -> Page:
        """Page ``page`` of ``query`` as the API sent it: raw records, not cut to the window."""
        return self.endpoint.raw_page(query, page)

    def iter_cash_flows(self, query: CashFlowQuery) -> Generator[CashFlow, None, None]:
        """Every record of ``query`` inside its window, newest first, exact while the history changes."""
        return self.endpoint.iter_cash_flows(query)
