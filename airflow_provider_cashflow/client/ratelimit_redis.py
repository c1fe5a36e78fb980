"""An account's rate-limit budget kept in Redis, so that workers on every machine share one budget.

One Lua script per call makes the check and the record one atomic step on the server, and stamps the call with
Redis's own clock, so machines whose clocks disagree still space their calls correctly. Chosen over the
``limits`` library (installed with Airflow): its moving window has no least gap between calls and no hold
after a 429, stamps calls with each client's clock, and would need two limiters whose combined check and
record are not atomic.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_cashflow.client.base_url import redact_url
from airflow_provider_cashflow.errors import LongPortConfigError, RateLimitStorageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_cashflow.client.ratelimit import Budget

__all__ = ["RedisBudgetStore"]

log = logging.getLogger(__name__)

_TIMEOUT = 5.0  # seconds; a budget check is one round trip, so anything slower means Redis is in trouble

# Both scripts below stamp calls as :class:`~.ratelimit.Budget` says (the latest time the server can have counted
# each), on Redis's clock; record() puts one in the calls read from KEYS[1] and stores the newest max_calls, in
# order, oldest first: an answer may come before another machine's grant plus its margin. TIME is in whole
# microseconds, as %.6f keeps it.
_RECORD = """
local function now() local t = redis.call('TIME') return tonumber(t[1]) + tonumber(t[2]) / 1000000 end
local function record(calls, stamp, max_calls, span, margin)
  local at = #calls + 1
  while at > 1 and tonumber(calls[at - 1]) > tonumber(stamp) do at = at - 1 end
  table.insert(calls, at, stamp)
  redis.call('DEL', KEYS[1])
  redis.call('RPUSH', KEYS[1], unpack(calls, math.max(1, #calls - max_calls + 1)))
  redis.call('PEXPIRE', KEYS[1], math.ceil((span + margin) * 1000) + 1000)
end
"""

# KEYS: the calls, the hold, the store's mark. ARGV: max_calls, span, gap, margin (seconds).
# Returns {seconds to wait, stamp, '1' if the store was new to the account}: 0 seconds means the call was recorded at
# the stamp, its grant plus the margin. As text: Lua numbers would reach Python truncated to integers.
# The mark is the run id of the Redis that keeps the account's calls. A Redis without it, or with another run id,
# has lost calls the API may still count: it restarted (empty, or from a snapshot older than its last calls), a
# replica took over, or the keys were flushed. So everyone waits out one window from now before the next call.
_TAKE = (
    _RECORD
    + """
local max_calls, span, gap, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local granted = now()
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local new = '0'
if redis.call('GET', KEYS[3]) ~= run_id then
  local hold = granted + span + margin
  if hold > (tonumber(redis.call('GET', KEYS[2])) or 0) then
    redis.call('SET', KEYS[2], string.format('%.6f', hold), 'PX', math.ceil((span + margin) * 1000) + 1000)
  end
  redis.call('SET', KEYS[3], run_id)
  new = '1'
end
local calls = redis.call('LRANGE', KEYS[1], 0, -1)
local n, first = #calls, 1
while first <= n and tonumber(calls[first]) <= granted - span do first = first + 1 end
local delay = (tonumber(redis.call('GET', KEYS[2])) or 0) - granted
if first <= n and gap > 0 then delay = math.max(delay, tonumber(calls[n]) + gap - granted) end
if n - first + 1 >= max_calls then delay = math.max(delay, tonumber(calls[n - max_calls + 1]) + span - granted) end
local stamp = string.format('%.6f', granted + margin)
if delay > 0 then return {string.format('%.6f', delay), stamp, new} end
record(calls, stamp, max_calls, span, margin)
return {'0', stamp, new}
"""
)

# KEYS: the calls. ARGV: a granted call's stamp as _TAKE returned it, max_calls, span, margin, and '1' if the call
# failed. The call counts from now instead, plus the margin if it failed.
_ANSWERED = (
    _RECORD
    + """
local max_calls, span, margin = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ended = now() + (ARGV[5] == '1' and margin or 0)
local calls = redis.call('LRANGE', KEYS[1], 0, -1)
for i = 1, #calls do
  if calls[i] == ARGV[1] then table.remove(calls, i) break end
end
record(calls, string.format('%.6f', ended), max_calls, span, margin)
return 0
"""
)
# KEYS: the hold. ARGV: seconds. Extends the hold to now + seconds, never shortens it.
_PENALIZE = """
local t = redis.call('TIME')
local hold = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
if hold > (tonumber(redis.call('GET', KEYS[1])) or 0) then
  redis.call('SET', KEYS[1], string.format('%.6f', hold), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 0
"""


class RedisBudgetStore:
    """The budget under ``prefix`` in the Redis at ``url``; checked with a PING when made.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or ``unix://``.
    :param prefix: the account's key prefix.
    :raises LongPortConfigError: the ``redis`` package is missing.
    :raises RateLimitStorageError: Redis does not answer.
    """

    def __init__(self, url: str, prefix: str):
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError:
            raise LongPortConfigError(
                "rate_limit_storage needs the redis package: pip install 'airflow-provider-cashflow[redis]'"
            ) from None
        self.where = redact_url(url)
        self._password = urlsplit(url).password
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._refusals: tuple[type[BaseException], ...] = (
            redis.AuthenticationError,
            redis.exceptions.NoPermissionError,
        )
        # a short retry heals a pooled connection that Redis closed; a Redis that stays down fails the call
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT,
            socket_connect_timeout=_TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 2),
        )
        self._keys = [f"{prefix}:calls", f"{prefix}:hold", f"{prefix}:store"]  # one slot for a Redis Cluster
        self.last_stamp: float | None = None  # the stamp of this process's last call, on Redis's clock
        self._stamp_text: bytes | str = ""  # and its text as stored
        self._take = self._redis.register_script(_TAKE)
        self._answered = self._redis.register_script(_ANSWERED)
        self._penalize = self._redis.register_script(_PENALIZE)
        self._call(self._redis.ping)

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self._errors as error:
            reason = f"{type(error).__name__}: {error}"
            if self._password:
                reason = reason.replace(self._password, "***")
            if isinstance(error, self._refusals):  # a retry would be refused the same way
                raise LongPortConfigError(
                    f"the shared rate-limit storage {self.where} (connection extra rate_limit_storage) refused this "
                    f"client ({reason}): check the user and password in the URL, and that the user may run EVALSHA "
                    "and INFO"
                ) from None
            raise RateLimitStorageError(
                f"the shared rate-limit storage {self.where} (connection extra rate_limit_storage) did not answer "
                f"({reason}); the task fails so that Airflow retries it, rather than spending a budget "
                "the other workers cannot see. Start or reach Redis, or empty rate_limit_storage to keep the "
                "budget per machine"
            ) from None

    def take(self, budget: Budget, clock: Callable[[], float]) -> float:
        """As :meth:`BudgetStore.take`, on Redis's own clock (``clock`` is this machine's, so not used)."""
        args = [budget.max_calls, repr(budget.span), repr(budget.gap), repr(budget.margin)]
        delay, stamp, new = self._call(self._take, keys=self._keys, args=args)
        if new == b"1":
            log.warning(
                "the shared rate-limit storage %s keeps no calls of this account: it is new, restarted, failed over "
                "or flushed, and the calls it lost may still count at the API. Waiting one window (%.1f s) first",
                self.where,
                budget.span + budget.margin,
            )
        if float(delay) <= 0:
            self.last_stamp, self._stamp_text = float(stamp), stamp  # as stored: the exact text to find it by
        return float(delay)

    def answered(self, stamp: float, budget: Budget, clock: Callable[[], float], *, failed: bool = False) -> None:
        """As :meth:`BudgetStore.answered`, on Redis's clock."""
        if self.last_stamp is None or stamp != self.last_stamp:
            return  # not this process's last call: nothing to find it by
        args = [self._stamp_text, budget.max_calls, repr(budget.span), repr(budget.margin), "1" if failed else "0"]
        # the call has its answer, which must not be lost to an outage now: the next take reports it
        with contextlib.suppress(RateLimitStorageError):
            self._call(self._answered, keys=self._keys[:1], args=args)

    def penalize(self, seconds: float, clock: Callable[[], float]) -> None:
        self._call(self._penalize, keys=self._keys[1:2], args=[repr(float(seconds))])

    def close(self) -> None:
        self._redis.close()
