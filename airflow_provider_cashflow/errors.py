"""The provider's errors, one family: what went wrong, what to do, and whether trying again can help.

Every error carries ``retryable``: the client retries a call on a retryable error, and the operator lets
Airflow retry the task only on one; any other error fails the task at once, since a retry would fail the same way.
"""

from __future__ import annotations

__all__ = [
    "RATE_LIMIT_CODES",
    "RETRYABLE_CODES",
    "TOKEN_EXPIRED_CODES",
    "VALIDATION_CODES",
    "ConnectionReadError",
    "DataCentreError",
    "LongPortAPIError",
    "LongPortConfigError",
    "LongPortError",
    "LongPortTransportError",
    "OAuthRefreshError",
    "OutOfOrderError",
    "OutputFormatError",
    "OutputStorageError",
    "RateLimitStorageError",
    "RecordError",
    "hint_for",
]

# Codes a retry can cure: rate limits, server faults, and a replayed signature (a re-signed retry carries
# a new timestamp, so it is no longer a replay).
# The account (429002) or its IP (429001) is over the rate limit: every sharer of the budget must hold back.
RATE_LIMIT_CODES: frozenset[int] = frozenset({429001, 429002})
RETRYABLE_CODES: frozenset[int] = RATE_LIMIT_CODES | {500000, 403202}
TOKEN_EXPIRED_CODES: frozenset[int] = frozenset({401003})
# The request-validation code the SDK's changelog names ("value does not match ..."): a parameter refused, as 400xxx.
VALIDATION_CODES: frozenset[int] = frozenset({602001})

_HINTS: dict[int, str] = {
    403201: "the signature was rejected: check the connection's password (app secret) for the app key in login",
    403202: "the server saw this signature before (a replay); retried with a fresh timestamp",
    403203: "the app key was rejected: check the connection's login (app key / OAuth client id)",
    403205: "this machine's IP address is not on the app's allow-list: add it in the LongPort developer console",
    401003: (
        "the access token has expired: create a new one in the LongPort developer console and update the "
        "connection's access_token extra (OAuth: set refresh_token in the connection so it is refreshed)"
    ),
    401004: "the access token is invalid: check the connection's access_token extra",
    401102: "the access token failed verification: check the connection's access_token extra and app key",
    429001: "the IP address is over the rate limit: lower concurrency (a pool of 1 per account is safest)",
    429002: "the API's rate limit (30 calls / 30 s per account) was hit: lower concurrency or use a shared pool",
    500000: "the LongPort server had an internal error: retry later",
}


def hint_for(code: int) -> str:
    if code in _HINTS:
        return _HINTS[code]
    if code in VALIDATION_CODES or code // 1000 == 400:
        return "the request parameters were rejected: check the window, business_type, symbol and page_size"
    return "see the LongPort OpenAPI error-code reference"


class LongPortError(Exception):
    """Base class of every error this provider raises."""

    retryable: bool = False  # whether the same request, made again later, may succeed
    retry_after: float | None = None  # seconds the server asked to wait before the next attempt, if it said
    code: int | None = None  # the API's error code, when it answered with its envelope
    http_status: int | None = None  # the HTTP status of the answer, when there was one

    @property
    def is_rate_limit(self) -> bool:
        """The account or its IP is over the rate limit: every sharer of the budget must hold back, and a retry
        waits longer than after a fault.

        The API's codes 429001 / 429002, or an HTTP 429 in any form: the official SDK retries a 429 without the
        envelope as a rate limit too (a gateway in front of the API answers so), and it is the HTTP status'
        one meaning.
        """
        return self.code in RATE_LIMIT_CODES or self.http_status == 429


class LongPortConfigError(LongPortError, ValueError):
    """Bad configuration or input, found before any call was made."""


class ConnectionReadError(LongPortError):
    """A secrets backend failed while reading the connection: it may exist, and a later try may read it."""

    retryable = True


class DataCentreError(LongPortConfigError):
    """A call the account's data centre (AP or US) does not serve, refused before it is sent.

    No retry cures it: the message names the account's region, why it was read so, and the setting to change.
    """


class LongPortAPIError(LongPortError):
    """The API answered with a non-zero ``code``.

    :param code: the API's error code.
    :param message: the API's own message.
    :param trace_id: the ``x-trace-id`` response header, for LongPort support.
    :param http_status: the HTTP status of the response.
    :param retry_after: the ``Retry-After`` the server sent, in seconds.
    """

    code: int

    def __init__(
        self,
        code: int,
        message: str,
        *,
        trace_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ):
        self.code = code
        self.retry_after = retry_after
        self.message = message
        self.trace_id = trace_id
        self.http_status = http_status
        self.hint = hint_for(code)
        self.retryable = code in RETRYABLE_CODES or http_status == 429  # a rate limit, whatever its code
        super().__init__(self._text())

    def _text(self) -> str:
        trace = f", trace id {self.trace_id}" if self.trace_id else ""
        status = f"HTTP {self.http_status}, " if self.http_status else ""
        return f"LongPort API error {self.code} ({status}{self.message!r}{trace}): {self.hint}"

    @property
    def token_expired(self) -> bool:
        return self.code in TOKEN_EXPIRED_CODES


class LongPortTransportError(LongPortError):
    """No usable answer: a connection error, a timeout, a 5xx without an envelope, or a body that is not JSON."""

    def __init__(self, message: str, *, trace_id: str | None = None, http_status: int | None = None):
        self.trace_id = trace_id
        self.http_status = http_status
        trace = f" (trace id {trace_id})" if trace_id else ""
        super().__init__(f"{message}{trace}")

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # No answer, a cut-off body, a gateway's 5xx page, a timeout or a bare 429 may pass; a redirect or another
        # 4xx page without the API's envelope (a wrong host or path, a proxy that refuses) answers the same next time.
        status = self.http_status
        return status is None or status < 300 or status >= 500 or status in (408, 429)


class OAuthRefreshError(LongPortError):
    """The OAuth token endpoint gave no new access token: no answer, a fault, or a refusal.

    Retryable, with backoff within the task and then by Airflow's retries, unless the endpoint refused the request
    itself: a rejected grant (``invalid_grant``: the refresh token expired or was revoked, which needs a new
    authorization in a browser) or client, or another 4xx answer. It carries the HTTP status and the OAuth error
    code (RFC 6749, 5.2) as they came; neither is a LongPort error code, so :attr:`code` stays ``None``.

    :param token_url: the token endpoint (it carries no secret).
    :param answered: what it answered, e.g. ``HTTP 503, temporarily_unavailable``.
    :param http_status: its HTTP status, ``None`` when it did not answer.
    :param oauth_error: the ``error`` of its JSON answer, if it had one.
    """

    REFUSALS = frozenset(
        {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type"}
        | {"invalid_scope", "access_denied"}
    )
    FAULTS = frozenset({"temporarily_unavailable", "server_error"})

    def __init__(
        self,
        token_url: str,
        answered: str,
        *,
        http_status: int | None = None,
        oauth_error: str | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ):
        self.http_status = http_status
        self.oauth_error = oauth_error
        self.trace_id = trace_id
        self.retry_after = retry_after
        trace = f" (trace id {trace_id})" if trace_id else ""
        super().__init__(f"OAuth token refresh at {token_url} failed ({answered}{trace}): {self.advice}")

    @property
    def advice(self) -> str:
        if self.retryable:
            return "a passing fault of the token endpoint, retried with backoff and then by Airflow's retries"
        if self.oauth_error == "invalid_grant":
            return (
                "the refresh token has expired or was revoked: authorize again in a browser and store the new "
                "refresh_token in the connection"
            )
        return "the token endpoint refused the request: check the OAuth client id (the connection's login)"

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        if self.oauth_error in self.REFUSALS:
            return False
        if self.oauth_error in self.FAULTS:
            return True
        status = self.http_status
        # no answer, a 5xx, a timeout or a 429, or a 200 without a token (cut off); another 4xx answers the same again
        return status is None or status < 300 or status >= 500 or status in (408, 429)

    @property
    def is_rate_limit(self) -> bool:
        return False  # the token endpoint's own limit, not the account's API budget


class RecordError(LongPortError, ValueError):
    """A record from the API that cannot be parsed; the message names the field."""


class OutOfOrderError(LongPortError, RuntimeError):
    """The API broke its newest-first order, so a day already written would be incomplete."""


class OutputFormatError(LongPortError, ValueError):
    """A record the chosen file format cannot hold without loss (a balance too precise for Parquet's decimal)."""


class OutputStorageError(LongPortError):
    """Writing a file to ``output_path`` failed: a full disk, a permission denied, an object store's error.

    It names the target (no credentials), says what failed and what to do; the file written before, if any, is
    kept as it was. Retryable when the fault may pass (an object store's 5xx or throttling, a network error), not
    when someone must act first (a full disk, a permission, a missing bucket).

    :param target: the file or object, e.g. ``s3://bucket/key``.
    :param reason: what failed, e.g. ``No space left on device``.
    :param advice: what to do.
    :param retryable: whether a retry of the task may succeed.
    """

    def __init__(self, target: str, reason: str, advice: str, *, retryable: bool):
        self.target = target
        self.retryable = retryable
        super().__init__(f"writing {target} failed: {reason}; {advice}")


class RateLimitStorageError(LongPortError):
    """The shared rate-limit storage (``rate_limit_storage``, e.g. Redis) did not answer.

    Retryable: the task fails and Airflow retries it, rather than spending an unshared budget that would
    overrun the account's limit on the other machines.
    """

    retryable = True
