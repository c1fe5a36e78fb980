"""One paced, signed HTTP round trip to the API: wait for the rate limiter, send, read the whole body; and the
counters of what the client did (calls, retries, waits), for progress lines, manifests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests
import urllib3

from airflow_provider_cashflow import __version__
from airflow_provider_cashflow.client.base_url import require_secure_base_url, validate_ca_bundle
from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.defaults import GLOBAL_BASE_URL
from airflow_provider_cashflow.errors import LongPortConfigError, LongPortTransportError

__all__ = ["CallStats", "PacedSession"]


@dataclass
class CallStats:
    """Counters of one client."""

    calls: int = 0
    retries: int = 0
    rate_wait: float = 0.0
    backoff_wait: float = 0.0
    token_refreshes: int = 0
    careful_pages: int = 0  # pages the fast decoder passed on to the careful parser
    calls_ahead: int = 0  # calls sent while the page before was decoded, and taken (docs/benchmarks.md)
    calls_dropped: int = 0  # calls sent ahead that the pager did not ask for after all

    def add(self, **amounts: float) -> None:
        """Add each amount to the counter of that name."""
        for name, amount in amounts.items():
            setattr(self, name, getattr(self, name) + amount)

    def progress(self) -> str:
        """The calls so far and the time they waited for the rate limit: the tail of both endpoints' progress lines."""
        return f"{self.calls} calls, {self.rate_wait:.2f} s waited for the rate limit"


class PacedSession:
    """A ``requests`` session whose every request first waits its turn at the account's rate limiter.

    The auth object signs each request as it goes on the wire, so every attempt carries a fresh signature.

    :param base_url: scheme and host, e.g. ``https://openapi.longportapp.com``.
    :param auth: a :class:`~airflow_provider_cashflow.client.auth.SignatureAuth` or ``BearerAuth``.
    :param limiter: the rate limiter shared by every client of the same account.
    :param timeout: connect and read timeout in seconds for one attempt.
    :param stats: counts the calls and the time waited for the limiter.
    :param ca_bundle: the CAs to trust instead of the default store (see :class:`LongPortClient`).
    """

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase,
        limiter: RateLimiter,
        timeout: float,
        stats: CallStats,
        *,
        ca_bundle: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LongPortConfigError(
                f"base URL {base_url!r} has no http:// or https:// scheme; set the connection's host to e.g. "
                + GLOBAL_BASE_URL
            )
        require_secure_base_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter
        self.timeout = timeout
        self.stats = stats
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json; charset=utf-8"
        self.session.headers["User-Agent"] = f"airflow-provider-cashflow/{__version__}"
        self.session.verify = validate_ca_bundle(ca_bundle) or True

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        body: bytes | None = None,
        on_turn: Callable[[], None] | None = None,
    ) -> RawAnswer:
        """One paced, freshly signed GET (a POST of ``body`` when one is given); the answer is read, not looked at.

        :param body: a JSON body to POST (the US endpoint's way); the signature covers its hash.
        :param on_turn: called once the rate limiter has given the call its turn, right before it is sent.
        :raises LongPortTransportError: the connection failed, timed out or broke off in the body.
        """
        method = "GET" if body is None else "POST"
        with self.limiter.turn() as waited:
            self.stats.add(rate_wait=waited, calls=1)
            if on_turn is not None:
                on_turn()
            return self._round_trip(method, path, params, body)

    def _round_trip(self, method: str, path: str, params: Mapping[str, str], body: bytes | None) -> RawAnswer:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                data=body,
                auth=self.auth,
                timeout=self.timeout,
                # a redirect would carry the signed headers to a host the https check never saw
                allow_redirects=False,
                verify=self.session.verify,  # else REQUESTS_CA_BUNDLE would override the connection's ca_bundle
                stream=True,
            )
            # In one read, not requests' 10 KB chunks: 2 ms less of Python a 2 MB page, and a thread that reads
            # an answer beside the one decoding the last needs the interpreter once, not 200 times.
            # The connection goes back to the pool once the body is read to its end.
            content = response.raw.read(decode_content=True)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
            raise LongPortTransportError(f"{method} {path} failed: {type(err).__name__}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise LongPortTransportError(
                f"{method} {path} failed while reading the body: {type(err).__name__}"
            ) from None
        return RawAnswer(path, response.status_code, response.headers, content, method)
