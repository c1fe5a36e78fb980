"""The retry policy alone: which errors are retried, how long to wait."""

from __future__ import annotations

from airflow_provider_cashflow.client.envelope import parse_retry_after
from airflow_provider_cashflow.client.retry import RetryBounds
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortTransportError


def test_retry_classification() -> None:
    policy = RetryBounds(max_attempts=5, max_elapsed=100)
    for code in (429001, 429002, 500000, 403202):
        assert policy.next_delay(1, 0, LongPortAPIError(code, "x"), None) is not None
    for code in (403201, 403203, 403205, 401003, 401004, 400001):
        assert policy.next_delay(1, 0, LongPortAPIError(code, "x"), None) is None
    assert policy.next_delay(1, 0, LongPortTransportError("reset"), None) is not None
    assert policy.next_delay(5, 0, LongPortTransportError("reset"), None) is None  # attempts spent
    assert policy.next_delay(1, 99.9, LongPortTransportError("reset"), None) is None  # time spent


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    policy = RetryBounds(base_delay=1, max_delay=8)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert policy.backoff(1, retry_after=7) >= 7
    assert parse_retry_after("3") == 3 and parse_retry_after(None) is None and parse_retry_after("Wed, 21 Oct") is None
