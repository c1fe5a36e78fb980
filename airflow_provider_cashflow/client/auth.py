"""Request signing (``requests`` auth objects): HMAC-SHA256 app-key mode, OAuth bearer mode and its refresh."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import requests

from airflow_provider_cashflow.client.base_url import redact_url, require_secure_base_url
from airflow_provider_cashflow.defaults import DC_REGION_HEADER
from airflow_provider_cashflow.errors import LongPortAPIError, OAuthRefreshError

__all__ = ["BearerAuth", "OAuthRefresher", "SignatureAuth", "canonical_request", "sign"]

_SIGNED_HEADERS = "authorization;x-api-key;x-timestamp"


def canonical_request(
    method: str, path: str, query: str, *, access_token: str, app_key: str, timestamp: str, body: bytes | None = None
) -> str:
    """The text LongPort signs, built from the request exactly as it goes on the wire."""
    canonical = (
        f"{method.upper()}|{path}|{query}|"
        f"authorization:{access_token}\nx-api-key:{app_key}\nx-timestamp:{timestamp}\n"
        f"|{_SIGNED_HEADERS}|"
    )
    if body:
        canonical += hashlib.sha1(body).hexdigest()
    return canonical


def sign(canonical: str, app_secret: str) -> str:
    """Lowercase hex HMAC-SHA256 over ``HMAC-SHA256|sha1hex(canonical)``."""
    string_to_sign = "HMAC-SHA256|" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()
    return hmac.new(app_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _wire_path_and_query(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path or "/", parts.query


def _body_bytes(request: requests.PreparedRequest) -> bytes | None:
    body = request.body
    if body is None or body == b"" or body == "":
        return None
    return body.encode("utf-8") if isinstance(body, str) else body


class _TimestampClock:
    """Whole-second timestamps that never repeat for the same request.

    The server rejects a signature it has seen before (403202), and with whole seconds a retry of the same
    page within one second would carry the same signature; waiting for the next second avoids that replay.
    """

    def __init__(self, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def stamp(self, request_key: str) -> str:
        with self._lock:
            now = self._clock()
            previous = self._last.get(request_key)
            if previous is not None and int(now) <= previous:
                self._sleep(previous + 1 - now)
                now = max(self._clock(), previous + 1)
            stamp = int(now)
            self._last[request_key] = stamp
            if len(self._last) > 256:
                # only the last few requests can still collide within a second
                for key in list(self._last)[:128]:
                    del self._last[key]
            return str(stamp)


# One clock per process: two hooks of one worker asking for the same page in the same second must not
# replay each other's signature.
_PROCESS_CLOCK = _TimestampClock()


class SignatureAuth(requests.auth.AuthBase):
    """Mode A: app key, app secret and access token; signs the prepared request as it goes on the wire.

    A request with a body (the US endpoint's POST) has the body's SHA-1 in the signed text.

    :param app_key: the app key (``X-Api-Key``).
    :param app_secret: the app secret, the HMAC key; never sent.
    :param access_token: the access token (``Authorization``, no ``Bearer`` prefix).
    :param dc_region: the account's data centre, ``ap`` or ``us``, sent as ``x-dc-region`` (not signed, as the
        official SDK sends it).
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        access_token: str,
        *,
        dc_region: str = "ap",
        clock: _TimestampClock | None = None,
    ):
        self.app_key = app_key
        self._app_secret = app_secret
        self.access_token = access_token
        self.dc_region = dc_region
        self._clock = clock or _PROCESS_CLOCK

    def __repr__(self) -> str:  # keep secrets out of reprs that end up in logs
        return f"SignatureAuth(app_key={self.app_key!r}, dc_region={self.dc_region!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path, query = _wire_path_and_query(request.url or "")
        method = request.method or "GET"
        body = _body_bytes(request)
        # two bodies to one path are two requests: only the same body again, within a second, would be a replay
        body_key = hashlib.sha1(body).hexdigest() if body else ""
        timestamp = self._clock.stamp(f"{method} {path}?{query} {body_key}")
        canonical = canonical_request(
            method,
            path,
            query,
            access_token=self.access_token,
            app_key=self.app_key,
            timestamp=timestamp,
            body=body,
        )
        request.headers[DC_REGION_HEADER] = self.dc_region
        request.headers["X-Api-Key"] = self.app_key
        request.headers["Authorization"] = self.access_token
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Api-Signature"] = (
            f"HMAC-SHA256 SignedHeaders={_SIGNED_HEADERS}, Signature={sign(canonical, self._app_secret)}"
        )
        return request


class BearerAuth(requests.auth.AuthBase):
    """Mode B: OAuth 2.0 bearer token with the client id as ``X-Api-Key``; no signature.

    :param dc_region: the account's data centre, ``ap`` or ``us``, sent as ``x-dc-region``.
    """

    def __init__(self, client_id: str, access_token: str, *, dc_region: str = "ap"):
        self.app_key = client_id
        self.access_token = access_token
        self.dc_region = dc_region

    def __repr__(self) -> str:
        return f"BearerAuth(client_id={self.app_key!r}, dc_region={self.dc_region!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[DC_REGION_HEADER] = self.dc_region
        request.headers["X-Api-Key"] = self.app_key
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        request.headers["X-Timestamp"] = str(int(time.time()))
        return request


class OAuthRefresher:
    """Trades a refresh token for a new OAuth access token at ``POST {base}/oauth2/token``.

    :param token_url: the token endpoint.
    :param client_id: the OAuth client id.
    :param refresh_token: the refresh token; replaced by the rotated one the server returns.
    :param dc_region: the account's data centre, sent as ``x-dc-region`` on the refresh too (as the SDK does).
    """

    def __init__(self, token_url: str, client_id: str, refresh_token: str, *, dc_region: str = "ap"):
        require_secure_base_url(token_url, where="OAuth token URL")  # it carries the refresh token
        self.token_url = token_url
        self.client_id = client_id
        self._refresh_token = refresh_token
        self.dc_region = dc_region

    def __repr__(self) -> str:
        return (
            f"OAuthRefresher(token_url={self.token_url!r}, client_id={self.client_id!r}, dc_region={self.dc_region!r})"
        )

    def refresh(self, session: requests.Session, timeout: float) -> str:
        """A new access token, once; the rotated refresh token is kept for the next.

        :raises OAuthRefreshError: no token: ``retryable`` for a fault (no answer, 5xx, ``temporarily_unavailable``),
            not for a refusal (``invalid_grant``: authorize again).
        :raises LongPortAPIError: the endpoint answered with LongPort's own envelope and its error code.
        """
        try:
            response = session.post(
                self.token_url,
                data={"grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": self._refresh_token},
                headers={DC_REGION_HEADER: self.dc_region},
                timeout=timeout,
                allow_redirects=False,  # a 307 would post the refresh token again, wherever it points
                verify=session.verify,  # the connection's ca_bundle wins over REQUESTS_CA_BUNDLE, as for the calls
            )
        except (requests.ConnectionError, requests.Timeout) as err:
            raise OAuthRefreshError(redact_url(self.token_url), f"no answer: {type(err).__name__}") from None
        status, trace_id = response.status_code, response.headers.get("x-trace-id")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        answer = payload if isinstance(payload, Mapping) else {}
        token = answer.get("access_token")
        if status == 200 and token:
            if answer.get("refresh_token"):
                self._refresh_token = answer["refresh_token"]
            return str(token)
        code = answer.get("code")
        if isinstance(code, int) and code:  # LongPort's own envelope: its code is what it says
            raise LongPortAPIError(
                code, f"OAuth token refresh failed: {answer.get('message')}", trace_id=trace_id, http_status=status
            )
        oauth_error = answer.get("error") if isinstance(answer.get("error"), str) else None
        answered = f"HTTP {status}" + (f", {oauth_error}" if oauth_error else "")
        if answer.get("error_description"):
            answered += f": {answer['error_description']}"
        elif payload is None:
            answered += ", a body that is not JSON"
        elif status == 200:
            answered += ", no access_token in the answer"
        raise OAuthRefreshError(
            redact_url(self.token_url),
            answered,
            http_status=status,
            oauth_error=oauth_error,
            trace_id=trace_id,
            retry_after=_seconds(response.headers.get("Retry-After")),
        )


def _seconds(retry_after: str | None) -> float | None:
    try:
        return float(retry_after) if retry_after else None
    except ValueError:
        return None  # an HTTP date: the backoff decides
