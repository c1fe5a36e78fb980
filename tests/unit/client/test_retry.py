"""One call retried (client/retry.py): the bounds alone (which errors are retried, how long to wait), then the loop
(a transport failure retried, one free OAuth refresh, the limiter penalty, giving up)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airflow_provider_cashflow.client.envelope import RawAnswer, open_envelope, parse_retry_after
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryBounds, RetryLoop
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortTransportError
from tests.helpers.fake_time import FakeTime


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


OK = RawAnswer("/p", 200, {}, b'{"code": 0, "message": "ok", "data": {"n": 1}}')


def failure(code: int, status: int, **headers: str) -> RawAnswer:
    return RawAnswer("/p", status, headers, json.dumps({"code": code, "message": "no"}).encode())


def sender(*outcomes: RawAnswer | Exception) -> tuple[Callable[[], RawAnswer], list[int]]:
    """Sends that answer ``outcomes`` in order; the list counts the attempts actually sent."""
    queue, sent = list(outcomes), []

    def send() -> RawAnswer:
        sent.append(1)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return send, sent


def loop(policy: RetryBounds, fake: FakeTime, refresh: Callable[[], None] | None = None) -> RetryLoop:
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)
    return RetryLoop(policy, limiter, CallStats(), refresh_token=refresh, sleep=fake.sleep)


def test_a_transport_failure_is_retried_with_a_fresh_attempt() -> None:
    fake = FakeTime()
    retries = loop(RetryBounds(max_attempts=2), fake)
    send, sent = sender(LongPortTransportError("reset"), OK)
    assert retries.call(send, open_envelope) == ({"n": 1}, None)
    assert len(sent) == 2 and retries.stats.retries == 1


def test_an_expired_token_is_refreshed_once_without_spending_an_attempt() -> None:
    fake = FakeTime()
    refreshed: list[int] = []
    retries = loop(RetryBounds(max_attempts=2, base_delay=0.01), fake, refresh=lambda: refreshed.append(1))
    send, _ = sender(failure(401003, 401), failure(500000, 500), OK)
    assert retries.call(send, open_envelope)[0] == {"n": 1}  # the 500 was attempt 1 of 2: the refresh was free
    send, _ = sender(failure(401003, 401), failure(401003, 401))
    with pytest.raises(LongPortAPIError, match="401003"):
        retries.call(send, open_envelope)  # a second expiry in one call is not refreshed again
    assert len(refreshed) == 2  # once per call


def test_an_over_budget_answer_holds_the_limiter_for_its_retry_after_and_waits_at_least_as_long() -> None:
    fake = FakeTime()
    slept: list[float] = []
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)
    policy = RetryBounds(max_attempts=2, base_delay=0.1, max_delay=0.1)
    retries = RetryLoop(policy, limiter, CallStats(), sleep=slept.append)  # the backoff does not move the clock
    send, _ = sender(failure(429002, 429, **{"Retry-After": "5"}), OK)
    retries.call(send, open_envelope)
    assert slept and slept[0] >= 5.0  # Retry-After outweighs a backoff of 0.1 s
    started = fake.now
    limiter.acquire()  # every sharer of the limiter is held back until the server's hold is over
    assert fake.now - started == pytest.approx(5.0, abs=0.01)


def test_giving_up_names_the_attempts_and_a_permanent_error_is_not_retried() -> None:
    fake = FakeTime()
    retries = loop(RetryBounds(max_attempts=3, base_delay=0.01), fake)
    send, sent = sender(*[failure(500000, 500)] * 3)
    with pytest.raises(LongPortAPIError) as info:
        retries.call(send, open_envelope)
    assert len(sent) == 3 and "gave up after 3 attempts" in info.value.__notes__[0]
    send, sent = sender(failure(403201, 403), OK)
    with pytest.raises(LongPortAPIError, match="403201"):
        retries.call(send, open_envelope)
    assert len(sent) == 1


def test_a_bare_http_429_holds_the_limiter_back_as_the_api_s_rate_limit_codes_do() -> None:
    """One ``is_rate_limit`` decides, here as in the task retry policy: a gateway's 429 page is a rate limit too."""
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)
    policy = RetryBounds(max_attempts=2, base_delay=2.0, max_delay=2.0)
    retries = RetryLoop(policy, limiter, CallStats(), sleep=lambda _delay: None)  # the backoff does not move the clock
    page = RawAnswer("/p", 429, {"Content-Type": "text/html"}, b"<html>429 Too Many Requests</html>")
    send, _ = sender(page, OK)
    assert retries.call(send, open_envelope)[0] == {"n": 1}
    started = fake.now
    limiter.acquire()  # every sharer of the limiter is held back for the backoff, 1 to 2 s
    assert 1.0 <= fake.now - started <= 2.0


def test_a_429_with_an_unlisted_code_is_a_rate_limit_retried_and_classed_so() -> None:
    from airflow_provider_cashflow.operators.retry_policy import error_class

    fake = FakeTime()
    retries = loop(RetryBounds(max_attempts=2, base_delay=0.01), fake)
    send, sent = sender(failure(429003, 429), OK)
    assert retries.call(send, open_envelope) == ({"n": 1}, None)
    assert len(sent) == 2 and retries.stats.retries == 1
    send, _ = sender(failure(429003, 429), failure(429003, 429))
    with pytest.raises(LongPortAPIError, match="429003") as raised:
        retries.call(send, open_envelope)
    assert raised.value.is_rate_limit and raised.value.retryable
    assert error_class(raised.value) == "rate_limit"  # the task is retried later, not failed at once
