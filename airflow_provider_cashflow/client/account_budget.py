"""One rate limiter per account and process, its budget kept where every sharer sees it: a file on this machine,
or Redis for every machine.

A module of its own because it picks between the two stores: the limiter (:mod:`.ratelimit`) knows neither
store's home, and the Redis store (:mod:`.ratelimit_redis`) knows only the budget it checks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading

from airflow_provider_cashflow.client.ratelimit import BudgetStore, RateLimiter
from airflow_provider_cashflow.client.ratelimit_redis import RedisBudgetStore
from airflow_provider_cashflow.defaults import RATE_LIMIT_CALLS, RATE_LIMIT_MIN_INTERVAL, RATE_LIMIT_PERIOD

__all__ = ["shared_limiter"]

_SHARED: dict[tuple[str, int, float, float, str | None], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(
    app_key: str,
    max_calls: int = RATE_LIMIT_CALLS,
    period: float = RATE_LIMIT_PERIOD,
    min_interval: float = RATE_LIMIT_MIN_INTERVAL,
    storage: str | None = None,
) -> RateLimiter:
    """The limiter of an account, one per process.

    :param storage: a ``redis://`` URL: the budget is kept there, shared by every machine. ``None``: in a file
        that every process of this machine shares.
    :raises RateLimitStorageError: the storage cannot be reached (a retry may cure it).
    """
    digest = hashlib.sha256(app_key.encode("utf-8")).hexdigest()[:20]
    key = (digest, max_calls, period, min_interval, storage)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            if storage:
                # the account's one budget whatever the limits configured: sharers must see each other's calls
                store: BudgetStore = RedisBudgetStore(storage, f"airflow-provider-cashflow:{{{digest}}}")
                limiter = RateLimiter(max_calls, period, min_interval, store=store)
            else:
                path = os.path.join(
                    tempfile.gettempdir(), f"airflow-provider-cashflow-{digest}-{max_calls}-{period:g}.calls"
                )
                limiter = RateLimiter(max_calls, period, min_interval, shared_file=path)
            _SHARED[key] = limiter
        return limiter
