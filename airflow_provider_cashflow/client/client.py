"""The HTTP client for ``GET /v1/asset/cashflow``: one session, signed calls, pacing, retries, paging.

It knows nothing of Airflow, so the benchmarks and the sandbox tests can use it bare; the hook builds it
from a connection.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import requests
import urllib3

from airflow_provider_cashflow import __version__
from airflow_provider_cashflow.defaults import CASHFLOW_PATH
from airflow_provider_cashflow.client.auth import OAuthRefresher
from airflow_provider_cashflow.client.base_url import require_secure_base_url, validate_ca_bundle
from airflow_provider_cashflow.errors import (
    LongPortAPIError,
    LongPortConfigError,
    LongPortError,
    LongPortTransportError,
)
from airflow_provider_cashflow.domain.models import BusinessType, CashFlow, RecordError, parse_cash_flow
from airflow_provider_cashflow.client.page_decoder import decode_cash_flow_page
from airflow_provider_cashflow.client.pagination import iter_pages, iter_pages_pipelined, validate_page_size
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryPolicy, parse_retry_after
from airflow_provider_cashflow.client.transport import SignallingAdapter, signal_when_sent
from airflow_provider_cashflow.domain.windows import Window

__all__ = ["CASHFLOW_PATH", "CallStats", "LongPortClient"]

_RECORD_KEY = b'"transaction_flow_name"'
_LONGER_THAN_A_PAGE_DECODES = 0.1  # seconds; a 10,000-record page decodes in ~15 ms
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _RawAnswer:
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes


class Page(list):
    """A page's records, with the ``x-trace-id`` of the answer that carried them (for error messages)."""

    trace_id: str | None = None

    @classmethod
    def of(cls, rows: Iterable[Any], trace_id: str | None) -> Page:
        page = cls(rows)
        page.trace_id = trace_id
        return page


@dataclass
class CallStats:
    """What a client did, for progress lines, manifests and benchmarks."""

    calls: int = 0
    retries: int = 0
    rate_wait: float = 0.0
    backoff_wait: float = 0.0
    token_refreshes: int = 0
    careful_pages: int = 0  # pages the fast decoder passed on to the careful parser


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
        Certificate verification is always on.
    """

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase,
        *,
        limiter: RateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        refresher: OAuthRefresher | None = None,
        on_new_secret: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ca_bundle: str | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise LongPortConfigError(
                f"base URL {base_url!r} has no http:// or https:// scheme; set the connection's host to e.g. "
                "https://openapi.longportapp.com"
            )
        require_secure_base_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter or RateLimiter()
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeout = timeout
        self.refresher = refresher
        self._on_new_secret = on_new_secret or (lambda _value: None)
        self._sleep = sleep
        self.stats = CallStats()
        self._stats_lock = threading.Lock()  # the prefetch threads count too
        self.session = requests.Session()
        self.session.mount("http://", SignallingAdapter())
        self.session.mount("https://", SignallingAdapter())
        self.session.headers["Content-Type"] = "application/json; charset=utf-8"
        self.session.headers["User-Agent"] = f"airflow-provider-cashflow/{__version__}"
        self.session.verify = validate_ca_bundle(ca_bundle) or True

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> LongPortClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # one call ------------------------------------------------------------------------------------------

    def _send(self, path: str, params: Mapping[str, str], on_sent: Callable[[], None] | None = None) -> _RawAnswer:
        """One paced, freshly signed HTTP round trip; the body is not looked at yet.

        :param on_sent: called once the request has left, or before a rate-limit wait longer than decoding a page.
        """

        def before_sleep(delay: float) -> None:
            if on_sent is not None and delay > _LONGER_THAN_A_PAGE_DECODES:
                on_sent()

        waited = self.limiter.acquire(before_sleep=before_sleep)
        with self._stats_lock:
            self.stats.rate_wait += waited
            self.stats.calls += 1
        try:
            with signal_when_sent(on_sent):
                response = self.session.get(
                    self.base_url + path, params=params, auth=self.auth, timeout=self.timeout, stream=True,
                    verify=self.session.verify,  # else REQUESTS_CA_BUNDLE would override the connection's ca_bundle
                )
            # One read of the whole body instead of requests' 10 KB chunks: each chunk is a socket read that must
            # win the GIL back from the thread parsing the previous page, and a page is ~2 MB.
            body = response.raw.read(decode_content=True)
            response.raw.release_conn()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
            raise LongPortTransportError(f"GET {path} failed: {type(err).__name__}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise LongPortTransportError(f"GET {path} failed while reading the body: {type(err).__name__}") from None
        return _RawAnswer(path, response.status_code, response.headers, body)

    @staticmethod
    def _decode(answer: _RawAnswer) -> tuple[Any, str | None]:
        """The envelope's ``data`` and the answer's ``x-trace-id``, or a classified error."""
        trace_id = answer.headers.get("x-trace-id")
        try:
            payload = json.loads(answer.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            kind = answer.headers.get("Content-Type", "no content type")
            raise LongPortTransportError(
                f"GET {answer.path} answered HTTP {answer.status} with a body that is not JSON ({kind}, "
                f"{len(answer.body)} bytes)",
                trace_id=trace_id,
                http_status=answer.status,
            ) from None
        code = payload.get("code") if isinstance(payload, Mapping) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise LongPortTransportError(
                f"GET {answer.path} answered HTTP {answer.status} without the API's envelope",
                trace_id=trace_id,
                http_status=answer.status,
            )
        if code != 0:
            error = LongPortAPIError(code, str(payload.get("message", "")), trace_id=trace_id, http_status=answer.status)
            error.retry_after = parse_retry_after(answer.headers.get("Retry-After"))  # type: ignore[attr-defined]
            raise error
        return payload.get("data"), trace_id

    def get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        first: _RawAnswer | LongPortError | None = None,
        decode: Callable[[_RawAnswer], T] | None = None,
    ) -> T | tuple[Any, str | None]:
        """GET ``path`` with retries: every attempt is paced, freshly signed, and bounded by the retry policy.

        Returns the envelope's ``data`` and the ``x-trace-id`` of the answer that carried it.

        :param first: the outcome of a first attempt already made (by the prefetching thread).
        :param decode: turns a successful answer into the result instead; raises the API's errors like ``_decode``.
        """
        decode = decode or self._decode
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                if first is None:
                    answer = self._send(path, params)
                else:
                    answer, first = first, None
                    if isinstance(answer, LongPortError):
                        raise answer
                return decode(answer)
            except LongPortAPIError as error:
                if error.token_expired and self.refresher is not None and not refreshed:
                    self._refresh_token()
                    refreshed = True
                    attempt -= 1  # the expired token was not the server's fault; do not spend the budget
                    continue
                self._wait_or_raise(error, attempt, started, getattr(error, "retry_after", None))
            except LongPortTransportError as error:
                self._wait_or_raise(error, attempt, started, None)

    def _wait_or_raise(self, error: LongPortError, attempt: int, started: float, retry_after: float | None) -> None:
        """Sleep before the next attempt, or re-raise ``error`` when the policy says the call has failed."""
        policy = self.retry_policy
        if isinstance(error, LongPortAPIError) and error.code in (429001, 429002):
            # the server says this account is over budget: hold back every sharer of the limiter too
            self.limiter.penalize(retry_after if retry_after is not None else policy.backoff(attempt))
        elapsed = time.monotonic() - started
        delay = policy.next_delay(attempt, elapsed, error, retry_after)
        if delay is None:
            if attempt > 1:
                error.add_note(f"gave up after {attempt} attempts in {elapsed:.1f} s")
            raise error
        log.warning("LongPort call failed (attempt %d): %s; retrying in %.1f s", attempt, error, delay)
        with self._stats_lock:
            self.stats.retries += 1
            self.stats.backoff_wait += delay
        self._sleep(delay)

    def _refresh_token(self) -> None:
        assert self.refresher is not None
        token = self.refresher.refresh(self.session, self.timeout)
        self._on_new_secret(token)
        self.auth.access_token = token  # type: ignore[attr-defined]
        self.stats.token_refreshes += 1
        log.info("The OAuth access token had expired and was refreshed")

    # the endpoint ----------------------------------------------------------------------------------------

    @staticmethod
    def cash_flow_params(
        start_time: int,
        end_time: int,
        *,
        page: int = 1,
        size: int = 50,
        business_type: int | None = None,
        symbol: str | None = None,
    ) -> dict[str, str]:
        """Query parameters in the official SDK's order, unset ones left out."""
        params = {"start_time": str(start_time), "end_time": str(end_time)}
        if business_type is not None:
            params["business_type"] = str(int(business_type))
        if symbol:
            params["symbol"] = symbol
        params["page"] = str(page)
        params["size"] = str(size)
        return params

    def get_cash_flow_page(
        self,
        start_time: int,
        end_time: int,
        *,
        page: int = 1,
        size: int = 50,
        business_type: int | None = None,
        symbol: str | None = None,
    ) -> Page:
        """One raw page of records as the API sent them (both ends of ``[start_time, end_time]`` inclusive)."""
        params = self.cash_flow_params(start_time, end_time, page=page, size=size, business_type=business_type, symbol=symbol)
        return self._page(params)

    def _page(self, params: Mapping[str, str]) -> Page:
        """One page of the cash-flow endpoint, retried, as raw API records."""
        data, trace_id = self.get(CASHFLOW_PATH, params)
        return Page.of(_rows(data, trace_id), trace_id)

    def _flows(
        self, params: Mapping[str, str], first: _RawAnswer | LongPortError | None = None, number: int = 1
    ) -> Sequence[CashFlow]:
        """One page of the cash-flow endpoint, retried, as :class:`CashFlow` records.

        :param number: the page's number, for the error that names a record the API got wrong.
        """

        def decode(answer: _RawAnswer) -> Sequence[CashFlow]:
            records = decode_cash_flow_page(answer.body)
            if records is not None:
                records.trace_id = answer.headers.get("x-trace-id")
                return records
            data, trace_id = self._decode(answer)  # raises the API's own error, if that is what it was
            with self._stats_lock:
                self.stats.careful_pages += 1
            try:
                return Page.of(map(parse_cash_flow, _rows(data, trace_id)), trace_id)
            except RecordError as error:
                raise RecordError(f"{error} (page {number}, trace id {trace_id})") from None

        return self.get(CASHFLOW_PATH, params, first=first, decode=decode)

    def iter_cash_flows(
        self,
        window: Window,
        *,
        business_type: BusinessType | int | None = None,
        symbol: str | None = None,
        page_size: int | None = None,
        prefetch: bool = True,
    ) -> Iterator[CashFlow]:
        """Every record with ``window.start <= business_time < window.end``, in the API's order (newest first)."""
        size = validate_page_size(page_size)
        start_time, end_time = window.request_bounds()

        def params(page: int) -> dict[str, str]:
            return self.cash_flow_params(start_time, end_time, page=page, size=size, business_type=business_type, symbol=symbol)

        if prefetch:

            def fetch_raw(page: int, on_sent: Callable[[], None]) -> _RawAnswer | LongPortError:
                try:
                    return self._send(CASHFLOW_PATH, params(page), on_sent)
                except LongPortError as error:  # retried on the decoding side, with the full retry policy
                    return error

            def looks_full(answer: _RawAnswer | LongPortError) -> bool:
                # Every record has this key once and an unescaped quote cannot occur inside a JSON string, so
                # the count is exact for a well-formed page; it is only a hint, the decoded page decides.
                return isinstance(answer, _RawAnswer) and answer.status == 200 and answer.body.count(_RECORD_KEY) >= size

            pages = iter_pages_pipelined(
                fetch_raw, looks_full, lambda page, answer: self._flows(params(page), answer, page), size
            )
        else:
            pages = iter_pages(lambda page: self._flows(params(page), number=page), size)

        kept = 0
        start, end = window.start, window.end
        for number, records in enumerate(pages, start=1):
            for record in records:
                if start <= record.business_time < end:
                    kept += 1
                    yield record
            log.info(
                "page %d: %d records, %d in %s so far (%d calls, %.2f s waited for the rate limit)",
                number, len(records), kept, window, self.stats.calls, self.stats.rate_wait,
            )


def _rows(data: Any, trace_id: str | None) -> list[Any]:
    """The envelope data's ``list``: a missing one is an empty page, anything but a list an error."""
    rows = data.get("list") if isinstance(data, Mapping) else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise LongPortTransportError(
            f"GET {CASHFLOW_PATH} answered with data.list of type {type(rows).__name__}", trace_id=trace_id
        )
    return rows
