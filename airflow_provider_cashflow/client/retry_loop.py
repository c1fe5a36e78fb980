"""One API call tried until it succeeds or the retry policy gives up.

Hand-written rather than built on ``tenacity``: the policy decides "stop" and "how long" in one step (a jittered
delay that would overrun ``max_elapsed`` stops the call), and a refreshed OAuth token must not spend an attempt.
Expressed with ``tenacity`` these need a delay shared between its stop and wait callbacks and an attempt counter
of our own: longer, not shorter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryBounds
from airflow_provider_cashflow.client.stats import CallStats
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortError, LongPortTransportError

__all__ = ["RetryLoop"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class RetryLoop:
    """Retries one call: every attempt is sent anew (so paced and freshly signed), bounded by the policy.

    :param policy: bounds of retries for one call; may be replaced between calls.
    :param limiter: held back for every sharer of the account when the server says it is over budget.
    :param stats: counts retries, backoff time and token refreshes.
    :param refresh_token: renews an expired OAuth token (bearer mode); tried once per call, for free.
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
                    self.refresh_token()
                    refreshed = True
                    attempt -= 1  # the expired token was not the server's fault; do not spend the budget
                    continue
                self._wait_or_raise(error, attempt, started)
            except LongPortTransportError as error:
                self._wait_or_raise(error, attempt, started)

    def _wait_or_raise(self, error: LongPortError, attempt: int, started: float) -> None:
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
        log.warning("LongPort call failed (attempt %d): %s; retrying in %.1f s", attempt, error, delay)
        self.stats.add(retries=1, backoff_wait=delay)
        self._sleep(delay)
