"""The task retry policy's classes of error: the rate limit is the error family's own ``is_rate_limit``."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.errors import (
    LongPortAPIError,
    LongPortConfigError,
    LongPortTransportError,
    OutOfOrderError,
    RateLimitStorageError,
)
from airflow_provider_cashflow.operators.retry_policy import error_class


@pytest.mark.parametrize(
    "error,kind",
    [
        (LongPortAPIError(429002, "api request is limited", http_status=429), "rate_limit"),
        (LongPortAPIError(429001, "ip request ratelimit", http_status=429), "rate_limit"),
        (LongPortTransportError("bare 429", http_status=429), "rate_limit"),
        (LongPortTransportError("gateway page", http_status=502), "transient"),
        (LongPortAPIError(500000, "internal", http_status=500), "transient"),
        (RateLimitStorageError("redis did not answer"), "transient"),
        (LongPortAPIError(403201, "signature invalid", http_status=403), "fatal"),
        (LongPortTransportError("wrong path", http_status=404), "fatal"),
        (LongPortConfigError("bad window"), "config"),
        (OutOfOrderError("late record"), "config"),
        (KeyError("not ours"), "other"),
    ],
)
def test_each_error_gets_its_class(error: BaseException, kind: str) -> None:
    assert error_class(error) == kind
