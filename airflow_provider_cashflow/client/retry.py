"""When to try a call again and how long to wait first: exponential backoff, full jitter, Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from airflow_provider_cashflow.defaults import BASE_DELAY, MAX_ATTEMPTS, MAX_DELAY, MAX_ELAPSED
from airflow_provider_cashflow.errors import LongPortError

__all__ = ["RetryBounds", "parse_retry_after"]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; ``None`` if absent or not a number."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date; LongPort sends seconds, so fall back to backoff
    return max(seconds, 0.0)


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
