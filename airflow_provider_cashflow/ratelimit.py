"""A client-side limiter that keeps calls under LongPort's trade-API budget before the server has to say no."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from typing import Callable

__all__ = ["RateLimiter", "shared_limiter"]


class RateLimiter:
    """At most ``max_calls`` in any ``period`` seconds, and no two calls closer than ``min_interval``.

    Waits exactly as long as the budget requires and no longer. ``margin`` pads each wait a little because the
    server counts calls when they arrive, not when they leave here.

    :param max_calls: calls allowed per window (LongPort: 30).
    :param period: window length in seconds (LongPort: 30).
    :param min_interval: least gap between two calls in seconds (LongPort: 0.02).
    :param margin: extra seconds added to every wait the window forces.
    """

    def __init__(
        self,
        max_calls: int = 30,
        period: float = 30.0,
        min_interval: float = 0.02,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls < 1 or period <= 0 or min_interval < 0:
            raise ValueError("rate limit needs max_calls >= 1, period > 0 and min_interval >= 0")
        self.max_calls = max_calls
        self.period = period
        self.min_interval = min_interval
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque(maxlen=max_calls)
        self._lock = threading.Lock()
        self.waited = 0.0

    def delay_needed(self, now: float) -> float:
        """Seconds to wait before a call at ``now`` fits the budget (0 if it fits now)."""
        delay = 0.0
        if self._calls:
            # the margin covers the jitter between leaving here and arriving there, for the gap as for the window
            gap = self.min_interval + min(self.margin, self.min_interval / 2)
            delay = max(delay, self._calls[-1] + gap - now)
        if len(self._calls) == self.max_calls:
            delay = max(delay, self._calls[0] + self.period + self.margin - now)
        return max(delay, 0.0)

    def acquire(self) -> float:
        """Block until a call may be made, record it, and return how long this call waited."""
        with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                delay = self.delay_needed(now)
                if delay <= 0:
                    break
                self._sleep(delay)
                waited += delay
            self._calls.append(now)
            self.waited += waited
            return waited

    def penalize(self, seconds: float) -> None:
        """After the server said "too many": hold every caller off for ``seconds``."""
        with self._lock:
            until = self._clock() + seconds
            # Filling the window with the penalty's end makes every sharer wait it out.
            self._calls.clear()
            self._calls.append(until - self.period - self.margin)
            self._calls.extend([until - self.period - self.margin] * (self.max_calls - 1))


_SHARED: dict[tuple[str, int, float, float], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(app_key: str, max_calls: int = 30, period: float = 30.0, min_interval: float = 0.02) -> RateLimiter:
    """The one limiter of this process for an app key: every hook for the same account shares the budget."""
    key = (hashlib.sha256(app_key.encode("utf-8")).hexdigest(), max_calls, period, min_interval)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RateLimiter(max_calls, period, min_interval)
        return limiter
