"""A client-side limiter that keeps calls under LongPort's trade-API budget before the server has to say no.

Airflow runs every task in a process of its own, so the budget of an account is kept in a small locked
file that every process on the worker shares; within a process a lock keeps threads in line.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from airflow_provider_cashflow.defaults import RATE_LIMIT_CALLS, RATE_LIMIT_MIN_INTERVAL, RATE_LIMIT_PERIOD

__all__ = ["RateLimiter", "shared_limiter"]


class _State:
    """The calls in the window, and a hold every sharer must wait out (after the server said "too many")."""

    def __init__(self, hold_until: float = 0.0, calls: list[float] | None = None):
        self.hold_until = hold_until
        self.calls = calls or []

    def dump(self) -> str:
        return " ".join(f"{t:.6f}" for t in (self.hold_until, *self.calls))

    @classmethod
    def load(cls, text: str) -> _State:
        numbers = [float(x) for x in text.split()]
        return cls(numbers[0], numbers[1:]) if numbers else cls()


class _MemoryWindow:
    def __init__(self) -> None:
        self.state = _State()

    @contextmanager
    def locked(self) -> Iterator[_State]:
        yield self.state


class _FileWindow:
    """The state in a file under ``flock``: one budget for all processes of this machine."""

    def __init__(self, path: str):
        self.path = path

    @contextmanager
    def locked(self) -> Iterator[_State]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as handle:
                text = handle.read()
                state = _State.load(text)
                yield state
                new = state.dump()
                if new != text:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(new)
        finally:
            os.close(fd)  # releases the lock


class RateLimiter:
    """At most ``max_calls`` in any ``period`` seconds, and no two calls closer than ``min_interval``.

    Waits as long as the budget requires and no longer, plus ``margin``: the server counts calls when they
    arrive, not when they leave here (0.25 s on a 30 s window costs under 1% of the throughput).

    :param max_calls: calls allowed per window (LongPort: 30).
    :param period: window length in seconds (LongPort: 30).
    :param min_interval: least gap between two calls in seconds (LongPort: 0.02).
    :param margin: extra seconds added to every wait the window forces.
    :param shared_file: keep the window in this file so that several processes share it.
    """

    def __init__(
        self,
        max_calls: int = RATE_LIMIT_CALLS,
        period: float = RATE_LIMIT_PERIOD,
        min_interval: float = RATE_LIMIT_MIN_INTERVAL,
        *,
        margin: float = 0.25,
        shared_file: str | None = None,
        clock: Callable[[], float] = time.time,
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
        self._window = _FileWindow(shared_file) if shared_file else _MemoryWindow()
        self._lock = threading.Lock()

    def delay_needed(self, calls: list[float], now: float, hold_until: float = 0.0) -> float:
        """Seconds to wait before a call at ``now`` fits the budget (0 if it fits now)."""
        delay = hold_until - now
        if calls and self.min_interval:
            # the margin covers the jitter between leaving here and arriving there, for the gap as for the window;
            # on a loaded worker it reaches tens of milliseconds (a wider gap only slows bursts, not throughput)
            gap = self.min_interval + min(self.margin, 0.05)
            delay = max(delay, calls[-1] + gap - now)
        if len(calls) >= self.max_calls:
            delay = max(delay, calls[-self.max_calls] + self.period + self.margin - now)
        return max(delay, 0.0)

    def acquire(self, before_sleep: Callable[[float], None] | None = None) -> float:
        """Block until a call may be made, record it, and return how long this call waited.

        :param before_sleep: called with the delay before each wait, if there is one.
        """
        waited = 0.0
        with self._lock:
            while True:
                with self._window.locked() as state:
                    now = self._clock()
                    calls = state.calls
                    # only the calls still inside the window matter, and at most max_calls of them
                    horizon = now - self.period - self.margin
                    keep = next((i for i, t in enumerate(calls) if t > horizon), len(calls))
                    del calls[: max(keep, len(calls) - self.max_calls)]
                    delay = self.delay_needed(calls, now, state.hold_until)
                    if delay <= 0:
                        calls.append(now)
                        break
                if before_sleep is not None:
                    before_sleep(delay)
                self._sleep(delay)  # outside the file lock, so other processes can check their own turn
                waited += delay
        return waited

    def penalize(self, seconds: float) -> None:
        """After the server said "too many": hold every sharer off for ``seconds``, keeping the window's calls."""
        with self._lock, self._window.locked() as state:
            state.hold_until = max(state.hold_until, self._clock() + seconds)


_SHARED: dict[tuple[str, int, float, float], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(
    app_key: str,
    max_calls: int = RATE_LIMIT_CALLS,
    period: float = RATE_LIMIT_PERIOD,
    min_interval: float = RATE_LIMIT_MIN_INTERVAL,
) -> RateLimiter:
    """The limiter of an account: one per process, its window shared through a file by every process here."""
    digest = hashlib.sha256(app_key.encode("utf-8")).hexdigest()[:20]
    key = (digest, max_calls, period, min_interval)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            path = os.path.join(tempfile.gettempdir(), f"airflow-provider-cashflow-{digest}-{max_calls}-{period:g}.calls")
            limiter = _SHARED[key] = RateLimiter(max_calls, period, min_interval, shared_file=path)
        return limiter
