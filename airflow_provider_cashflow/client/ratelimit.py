"""A client-side limiter that keeps calls under LongPort's trade-API budget before the server has to say no.

Airflow runs every task in a process of its own, so the budget of an account is kept in a small locked
file that every process on the worker shares, or, with workers on several machines, in Redis
(:mod:`.ratelimit_redis`); within a process a lock keeps threads in line.
"""

from __future__ import annotations

import bisect
import fcntl
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Protocol

from airflow_provider_cashflow.defaults import RATE_LIMIT_CALLS, RATE_LIMIT_MIN_INTERVAL, RATE_LIMIT_PERIOD

__all__ = ["Budget", "BudgetStore", "RateLimiter"]


class _State:
    """The calls in the window, and a hold every sharer must wait out (after the server said "too many")."""

    def __init__(self, hold_until: float = 0.0, calls: list[float] | None = None):
        self.hold_until = hold_until
        self.calls = calls or []
        self.granted: float | None = None  # the stamp of the call granted under this lock, if one was (not saved)
        self.margin = 0.0  # and how far past its grant that stamp lies

    def dump(self) -> str:
        return " ".join(f"{t:.6f}" for t in (self.hold_until, *self.calls)) + "\n"

    @classmethod
    def load(cls, text: str) -> _State:
        # the first line only: a process killed between its write and its truncate leaves the old text's tail
        numbers = [float(x) for x in text.partition("\n")[0].split()]
        return cls(numbers[0], numbers[1:]) if numbers else cls()


@dataclass(frozen=True)
class Budget:
    """What a store checks a call against: at most ``max_calls`` in any ``span`` seconds, ``gap`` apart.

    A store stamps each call with the latest time the server can have counted it, so that a call sent at ``now``
    is surely counted after all of them: a granted call ``margin`` seconds after its grant (it is on its way), an
    answered one at its answer (it had arrived), one that failed ``margin`` after it failed (it may be late).
    """

    max_calls: int
    span: float
    gap: float
    margin: float = 0.0

    def delay_needed(self, calls: list[float], now: float, hold_until: float = 0.0) -> float:
        """Seconds to wait before a call at ``now`` fits the budget (0 if it fits now); ``calls`` in order."""
        delay = hold_until - now
        if calls and self.gap:
            delay = max(delay, calls[-1] + self.gap - now)
        if len(calls) >= self.max_calls:
            delay = max(delay, calls[-self.max_calls] + self.span - now)
        return max(delay, 0.0)


_STALE_STAMP = 0.05  # seconds a grant's stamp may lag the write that records it


def _stamp(seconds: float) -> float:
    """To the microsecond the file keeps (so that a call is found by its stamp again), never earlier."""
    return math.ceil(round(seconds * 1e6, 3)) / 1e6


def _save(handle: IO[str], text: str, state: _State) -> str:
    new = state.dump()
    if new != text:
        # written over, then cut to length: ext4 flushes a file truncated to zero and written again to the disk
        # when it is closed (auto_da_alloc), which took 0.15 ms a write on a quiet machine and stalled a loaded
        # one for a fifth of a second; this takes 0.015 ms
        handle.seek(0)
        handle.write(new)
        handle.truncate()  # flushes first: to the file now, so that the time after this is when the call can leave
    return new


class _LocalStore:
    """The budget's state under a lock: in this process only, or in a file under ``flock`` that every process of
    this machine shares (:mod:`.ratelimit_redis` keeps it in Redis instead, for every machine)."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.state = _State()
        self.last_stamp: float | None = None  # when this store last granted a call

    @contextmanager
    def locked(self, clock: Callable[[], float]) -> Iterator[_State]:
        if self.path is None:
            yield self.state  # the limiter's thread lock is all a single process needs
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as handle:
                text = handle.read()
                state = _State.load(text)
                yield state
                text = _save(handle, text, state)
                # A grant's stamp must be when the call leaves, just after the lock is let go: another process
                # spaces its own call from it. A write that waited (for the disk, or a process descheduled on a
                # busy machine) made it stale, so stamp the call again, until a write is quick (a few tries: a
                # disk that stalls every write is left to the margin).
                for _ in range(4):
                    late = _stamp(clock() + state.margin)
                    if state.granted is None or late - state.granted < _STALE_STAMP:
                        break
                    state.calls.remove(state.granted)
                    bisect.insort(state.calls, late)
                    state.granted = late
                    text = _save(handle, text, state)
        finally:
            os.close(fd)  # releases the lock

    def take(self, budget: Budget, clock: Callable[[], float]) -> float:
        with self.locked(clock) as state:
            # read under the lock: a process that waited for another's turn must not stamp its call in the past
            now = clock()
            calls = state.calls
            # only the calls still inside the window matter, and at most max_calls of them
            horizon = now - budget.span
            keep = next((i for i, t in enumerate(calls) if t > horizon), len(calls))
            del calls[: max(keep, len(calls) - budget.max_calls)]
            delay = budget.delay_needed(calls, now, state.hold_until)
            if delay <= 0:
                state.granted, state.margin = _stamp(now + budget.margin), budget.margin
                bisect.insort(calls, state.granted)
        if delay <= 0:
            self.last_stamp = state.granted
        return delay

    def answered(self, stamp: float, budget: Budget, clock: Callable[[], float], *, failed: bool = False) -> None:
        # before the lock: the answer came before it, and a wait for another process's turn must not push it on
        ended = _stamp(clock() + (budget.margin if failed else 0.0))
        try:
            with self.locked(clock) as state:
                if stamp in state.calls:  # gone if the window had already let it go
                    state.calls.remove(stamp)
                bisect.insort(state.calls, ended)  # an answer may come before another sharer's grant plus margin
        except OSError:
            # the call has its answer, which a budget file that cannot be written now must not cost; its grant
            # stamp stays, and the next take reports a file that stays unwritable
            pass

    def penalize(self, seconds: float, clock: Callable[[], float]) -> None:
        with self.locked(clock) as state:
            state.hold_until = max(state.hold_until, clock() + seconds)


class BudgetStore(Protocol):
    """Where an account's budget lives; every limiter sharing a store shares the budget."""

    last_stamp: float | None  # the stamp of the last call this store granted, on the clock it stamps with

    def take(self, budget: Budget, clock: Callable[[], float]) -> float:
        """Record a call now and return 0 if it fits ``budget``, else return the seconds to wait first.

        ``clock`` is read once the store holds its lock, so the call is stamped when it was granted (a store with
        a clock of its own, such as Redis's, may go by that instead)."""

    def answered(self, stamp: float, budget: Budget, clock: Callable[[], float], *, failed: bool = False) -> None:
        """The call stamped ``stamp`` when granted has ended: from now on it counts from now, when it had surely
        arrived if it has its answer (with no margin: a stall between the grant and the send, a file write or a
        garbage collection, no longer shortens the gap or the window the server sees, and a call that was quick
        no longer holds the next one back), or from now plus ``budget.margin`` if it ``failed`` (a request that
        timed out may still reach the server)."""

    def penalize(self, seconds: float, clock: Callable[[], float]) -> None:
        """Hold every sharer off for ``seconds`` from now, as ``clock`` tells it."""


class RateLimiter:
    """At most ``max_calls`` in any ``period`` seconds, and no two calls closer than ``min_interval``.

    Waits as long as the budget requires and no longer. The server counts calls when they arrive, not when they
    leave here: a call made in :meth:`turn` counts from its answer, which came after it arrived, so a process's
    calls one after another are exact; a call still on its way (another process's, or one made by
    :meth:`acquire` alone) counts from ``margin`` seconds after its grant.

    :param max_calls: calls allowed per window (LongPort: 30).
    :param period: window length in seconds (LongPort: 30).
    :param min_interval: least gap between two calls in seconds (LongPort: 0.02).
    :param margin: the seconds a granted call may take to reach the server (a stall, a write, the network).
    :param shared_file: keep the window in this file so that several processes share it.
    :param store: keep the window there instead (e.g. a :class:`~.ratelimit_redis.RedisBudgetStore`).
    """

    def __init__(
        self,
        max_calls: int = RATE_LIMIT_CALLS,
        period: float = RATE_LIMIT_PERIOD,
        min_interval: float = RATE_LIMIT_MIN_INTERVAL,
        *,
        margin: float = 0.25,
        shared_file: str | None = None,
        store: BudgetStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls < 1 or period <= 0 or min_interval < 0:
            raise ValueError("rate limit needs max_calls >= 1, period > 0 and min_interval >= 0")
        self.max_calls = max_calls
        self.period = period
        self.min_interval = min_interval
        self.margin = margin
        self.clock = clock
        self._sleep = sleep
        self.store: BudgetStore = store or _LocalStore(shared_file)
        self._lock = threading.Lock()

    @property
    def budget(self) -> Budget:
        # the margin covers a call still on its way: on a loaded 2-core worker running several task processes
        # the time from grant to arrival passed 100 ms (a server then saw two calls under 0.02 s apart)
        return Budget(self.max_calls, self.period, self.min_interval, self.margin)

    def acquire(self) -> float:
        """Block until a call may be made, record it, and return how long this call waited."""
        return self._acquire()[0]

    def _acquire(self) -> tuple[float, float | None]:
        waited = 0.0
        with self._lock:
            while True:
                delay = self.store.take(self.budget, self.clock)
                if delay <= 0:
                    return waited, self.store.last_stamp
                self._sleep(delay)  # outside the file lock, so other processes can check their own turn
                waited += delay

    @contextmanager
    def turn(self) -> Iterator[float]:
        """A call's turn: waits for it (yields the seconds waited) and, once the block is over, counts the call
        from then rather than from its grant. The server counts a call when it arrives, which is after the grant
        and before the answer: a process that stalls between the two (a file write that waits for the disk's
        journal, a garbage collection) would otherwise have its next call, or its 31st, arrive too soon; and a
        process whose call was quick need not wait out the margin before its next. A block that raised had no
        answer, so its call counts from ``margin`` after the block ended."""
        waited, stamp = self._acquire()
        failed = True
        try:
            yield waited
            failed = False
        finally:
            if stamp is not None:
                with self._lock:
                    self.store.answered(stamp, self.budget, self.clock, failed=failed)

    def penalize(self, seconds: float) -> None:
        """After the server said "too many": hold every sharer off for ``seconds``, keeping the window's calls."""
        with self._lock:
            self.store.penalize(seconds, self.clock)
