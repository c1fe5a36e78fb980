"""The error family: one base, a retryable flag, and the built-in bases callers already catch."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.errors import (
    LongPortAPIError,
    LongPortConfigError,
    LongPortError,
    LongPortTransportError,
    OAuthRefreshError,
    OutOfOrderError,
    OutputFormatError,
    RecordError,
)


@pytest.mark.parametrize(
    "error,retryable,builtin",
    [
        (LongPortConfigError("bad"), False, ValueError),
        (RecordError("bad record"), False, ValueError),
        (OutputFormatError("too precise"), False, ValueError),
        (OutOfOrderError("late record"), False, RuntimeError),
        (LongPortTransportError("reset"), True, Exception),
        (LongPortTransportError("cut-off body", http_status=200), True, Exception),
        (LongPortTransportError("gateway page", http_status=502), True, Exception),
        (LongPortTransportError("bare 429", http_status=429), True, Exception),
        (LongPortTransportError("wrong path", http_status=404), False, Exception),
        (LongPortTransportError("proxy refused", http_status=403), False, Exception),
        (LongPortTransportError("moved", http_status=301), False, Exception),
        (LongPortAPIError(429002, "limited"), True, Exception),
        (LongPortAPIError(500000, "internal"), True, Exception),
        (LongPortAPIError(403201, "signature invalid"), False, Exception),
        (LongPortAPIError(401003, "token expired"), False, Exception),
        # the token endpoint: a fault passes, a refusal does not, whatever the status says
        (OAuthRefreshError("u", "reset"), True, Exception),
        (OAuthRefreshError("u", "HTTP 503", http_status=503, oauth_error="temporarily_unavailable"), True, Exception),
        (OAuthRefreshError("u", "HTTP 400", http_status=400, oauth_error="temporarily_unavailable"), True, Exception),
        (OAuthRefreshError("u", "HTTP 500", http_status=500), True, Exception),
        (OAuthRefreshError("u", "HTTP 429", http_status=429), True, Exception),
        (OAuthRefreshError("u", "HTTP 400", http_status=400, oauth_error="invalid_grant"), False, Exception),
        (OAuthRefreshError("u", "HTTP 401", http_status=401, oauth_error="invalid_client"), False, Exception),
        (OAuthRefreshError("u", "HTTP 500", http_status=500, oauth_error="invalid_grant"), False, Exception),
        (OAuthRefreshError("u", "HTTP 404", http_status=404), False, Exception),
    ],
)
def test_every_error_is_a_longport_error_that_says_whether_a_retry_can_help(error, retryable, builtin) -> None:
    assert isinstance(error, LongPortError) and isinstance(error, builtin)
    assert error.retryable is retryable


@pytest.mark.parametrize(
    "error,rate_limit",
    [
        (LongPortAPIError(429001, "ip request ratelimit", http_status=429), True),
        (LongPortAPIError(429002, "api request is limited", http_status=429), True),
        (LongPortAPIError(429002, "api request is limited"), True),
        # a gateway's 429 without the envelope is the same rate limit, as the official SDK reads it
        (LongPortTransportError("bare 429", http_status=429), True),
        (LongPortTransportError("gateway page", http_status=503), False),
        (LongPortTransportError("reset"), False),
        (LongPortAPIError(500000, "internal", http_status=500), False),
        (LongPortAPIError(403202, "duplicate request", http_status=403), False),
        (LongPortConfigError("bad"), False),
        (OAuthRefreshError("u", "HTTP 429", http_status=429), False),  # the token endpoint's, not the account's
    ],
)
def test_one_rate_limit_test_for_the_whole_family(error: LongPortError, rate_limit: bool) -> None:
    assert error.is_rate_limit is rate_limit


def test_an_api_error_keeps_the_retry_after_the_server_sent() -> None:
    assert LongPortAPIError(429001, "ip limited", retry_after=1.5).retry_after == 1.5
    assert LongPortAPIError(500000, "internal").retry_after is None
