"""One call retried: the bounds of its retries (exponential backoff, full jitter, ``Retry-After``) and the loop
that tries it until it succeeds or the bounds give up.

The loop is hand-written rather than built on ``tenacity``: the bounds decide "stop" and "how long" in one step (a
jittered delay that would overrun ``max_elapsed`` stops the call), and a refreshed OAuth token must not spend an
attempt. Expressed with ``tenacity`` these need a delay shared between its stop and wait callbacks and an attempt
counter of our own: longer, not shorter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.defaults import BASE_DELAY, MAX_ATTEMPTS, MAX_DELAY, MAX_ELAPSED
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortError, LongPortTransportError

__all__ = ["RetryBounds", "RetryLoop"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryBounds:
    """Bounds and pacing of retries for one call.

    :param max_attempts: attempts in all, the first included.
    :param max_elapsed: seconds after the first attempt past which no new attempt starts.
    :param base_delay: the first backoff, doubled on every further attempt.
    :param max_delay: cap of one backoff (``Retry-After`` may ask for more, up to ``max_elapsed``).
    """

    max_attempts: int = MAX_ATTEMPTS
    max_elapsed: float = MAX_ELAPSED
    base_delay: float = BASE_DELAY
    max_delay: float = MAX_DELAY
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_elapsed < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays and max_elapsed must not be negative")

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        return isinstance(error, LongPortError) and error.retryable

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait before attempt ``attempt + 1`` (``attempt`` counts from 1): full jitter over an exponential cap."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        # Full jitter spreads retries of workers that failed together; half the ceiling is kept as a floor so a
        # retry never hammers a struggling server immediately.
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def next_delay(self, attempt: int, elapsed: float, error: BaseException, retry_after: float | None) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` if the call must fail now."""
        if not self.is_retryable(error) or attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt, retry_after)
        if elapsed + delay > self.max_elapsed:
            return None
        return delay


class RetryLoop:
    """Retries one call: every attempt is sent anew (so paced and freshly signed), bounded by the policy.

    :param policy: bounds of retries for one call; may be replaced between calls.
    :param limiter: held back for every sharer of the account when the server says it is over budget.
    :param stats: counts retries, backoff time and token refreshes.
    :param refresh_token: renews an expired OAuth token (bearer mode): once per call, not spending the call's
        attempts; the renewal is retried on its own faults within the same bounds.
    :param sleep: waits out a backoff.
    """

    def __init__(
        self,
        policy: RetryBounds,
        limiter: RateLimiter,
        stats: CallStats,
        *,
        refresh_token: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.limiter = limiter
        self.stats = stats
        self.refresh_token = refresh_token
        self._sleep = sleep

    def call(self, send: Callable[[], RawAnswer], decode: Callable[[RawAnswer], T]) -> T:
        """``decode(send())``, retried on the errors the policy calls retryable.

        :param send: makes one attempt's round trip.
        :param decode: turns an answer into the result, raising the API's errors.
        """
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                return decode(send())
            except LongPortAPIError as error:
                if error.token_expired and self.refresh_token is not None and not refreshed:
                    self._refresh()
                    refreshed = True
                    attempt -= 1  # the expired token was not the server's fault; do not spend the budget
                    continue
                self._wait_or_raise(error, attempt, started)
            except LongPortTransportError as error:
                self._wait_or_raise(error, attempt, started)

    def _refresh(self) -> None:
        """Renew the OAuth token, retried within the same bounds as a call: the token endpoint has faults too."""
        assert self.refresh_token is not None
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.refresh_token()
            except LongPortError as error:
                self._wait_or_raise(error, attempt, started, what="OAuth token refresh")

    def _wait_or_raise(self, error: LongPortError, attempt: int, started: float, what: str = "LongPort call") -> None:
        """Sleep before the next attempt, or re-raise ``error`` when the policy says the call has failed."""
        policy = self.policy
        retry_after = error.retry_after
        if error.is_rate_limit:
            # the server says this account is over budget: hold back every sharer of the limiter too
            self.limiter.penalize(retry_after if retry_after is not None else policy.backoff(attempt))
        elapsed = time.monotonic() - started
        delay = policy.next_delay(attempt, elapsed, error, retry_after)
        if delay is None:
            if attempt > 1:
                error.add_note(f"gave up after {attempt} attempts in {elapsed:.1f} s")
            raise error
        log.warning("%s failed (attempt %d): %s; retrying in %.1f s", what, attempt, error, delay)
        self.stats.add(retries=1, backoff_wait=delay)
        self._sleep(delay)
