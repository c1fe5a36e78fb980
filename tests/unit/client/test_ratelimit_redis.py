"""The budget kept in Redis: one real ``redis-server`` per test, processes that share it as machines would."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import pytest

from airflow_provider_cashflow.client.account_budget import shared_limiter
from airflow_provider_cashflow.client.base_url import redact_url
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.ratelimit_redis import RedisBudgetStore
from airflow_provider_cashflow.client.settings import LongPortSettings
from airflow_provider_cashflow.errors import LongPortConfigError, RateLimitStorageError
from tests.helpers.processes import free_port
from tests.helpers.servers import RedisServer

# Each process stands for a machine: its own limiter, its own process, only Redis in common.
WORKER = """
import sys
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.ratelimit_redis import RedisBudgetStore
url, calls = sys.argv[1], int(sys.argv[2])
store = RedisBudgetStore(url, "test:{account}")
limiter = RateLimiter(5, 1.0, 0.02, margin=0.05, store=store)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(calls):
    limiter.acquire()
    print(repr(store.last_stamp), flush=True)
"""


def _kept(limiter: RateLimiter) -> RateLimiter:
    """As if this Redis had kept the account's calls all along, so the first call need not wait a window out (that
    wait is tested on its own, below)."""
    store = limiter.store
    assert isinstance(store, RedisBudgetStore)
    store._redis.set(store._keys[2], store._redis.info("server")["run_id"])
    return limiter


def _run_workers(url: str, workers: int, calls: int) -> list[float]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(calls)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    try:
        # all start calling together, once each has imported and reached Redis: on a loaded machine one
        # interpreter can start seconds after another, which is no business of the limiter's
        assert [p.stdout.readline().strip() for p in procs if p.stdout] == ["ready"] * workers
        outputs = [p.communicate("go\n", timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs)
    return sorted(float(line) for out in outputs for line in out.split())


def test_processes_on_several_machines_share_one_window_and_gap_exactly(redis_server: RedisServer) -> None:
    stamps = _run_workers(redis_server.url, workers=4, calls=5)  # 20 calls, 5 per 1.05 s
    assert len(stamps) == 20 and len(set(stamps)) == 20
    span, gap = 1.0 + 0.05, 0.02 + 0.05  # the limiter's window and gap, margins included
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= span, (i, stamps)  # never a 6th call inside one window
    assert all(b - a >= gap for a, b in itertools.pairwise(stamps)), stamps  # the gap holds across processes
    elapsed = stamps[-1] - stamps[0]
    assert 3 * span <= elapsed < 3 * span + 2.0, elapsed  # paced by the budget, not serialised beyond it
    print(f"\n20 calls from 4 processes through Redis: {elapsed:.2f} s, the limit's ideal {3 * span:.2f} s")


def test_a_penalty_holds_every_sharer(redis_server: RedisServer) -> None:
    first = _kept(RateLimiter(30, 30.0, 0.02, store=RedisBudgetStore(redis_server.url, "test:{hold}")))
    other_store = RedisBudgetStore(redis_server.url, "test:{hold}")
    other = RateLimiter(30, 30.0, 0.02, store=other_store)
    first.acquire()
    first.penalize(1.5)  # the server said 429 to the first machine ...
    waited = other.acquire()  # ... so the second waits too, without a 429 of its own
    assert waited >= 1.4
    calls = other_store._redis.lrange("test:{hold}:calls", 0, -1)
    assert len(calls) == 2 and float(calls[1]) - float(calls[0]) >= 1.5  # the hold kept the first call, too


def test_keys_expire_when_the_account_is_idle(redis_server: RedisServer) -> None:
    store = RedisBudgetStore(redis_server.url, "test:{idle}")
    limiter = _kept(RateLimiter(3, 2.0, 0.0, store=store))
    limiter.acquire()
    limiter.penalize(1.0)
    assert 0 < store._redis.pttl("test:{idle}:calls") <= (2.0 + 0.25) * 1000 + 1000
    assert 0 < store._redis.pttl("test:{idle}:hold") <= 2000


def test_a_redis_that_lost_the_accounts_calls_holds_every_sharer_one_window(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisBudgetStore(redis_server.url, "test:{lost}")
    limiter = RateLimiter(5, 1.0, 0.0, margin=0.05, store=store)
    other = RateLimiter(5, 1.0, 0.0, margin=0.05, store=RedisBudgetStore(redis_server.url, "test:{lost}"))
    assert limiter.acquire() >= 1.0  # new to the account: the calls of the last window may be elsewhere
    assert "keeps no calls of this account" in caplog.text and "Waiting one window (1.1 s)" in caplog.text
    assert limiter.acquire() == 0 and other.acquire() == 0  # from then on, the budget as usual
    store._redis.flushall()  # the keys are lost, the calls they held still count at the server ...
    assert other.acquire() >= 1.0 and limiter.acquire() == 0  # ... so the first sharer to see it waits a window
    store._redis.set("test:{lost}:store", "f" * 40)  # a replica took over: another Redis run, maybe behind
    assert limiter.acquire() >= 1.0


def test_unreachable_redis_is_a_retryable_error_that_names_it_and_hides_the_password() -> None:
    url = f"redis://:s3cret-redis-pass@127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(RateLimitStorageError) as caught:
        shared_limiter("key-unreachable", storage=url)
    text = str(caught.value)
    assert "rate_limit_storage" in text and f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in text
    assert "s3cret-redis-pass" not in text and caught.value.__cause__ is None
    assert caught.value.retryable and not isinstance(caught.value, LongPortConfigError)


def test_a_wrong_redis_password_is_a_config_error_a_retry_cannot_cure() -> None:
    with RedisServer("--requirepass", "right-redis-pass") as server:
        with pytest.raises(LongPortConfigError, match=r"refused this client.*user and password") as caught:
            shared_limiter("key-wrong-pass", storage=f"redis://:wrong-redis-pass@127.0.0.1:{server.port}/0")
        assert "wrong-redis-pass" not in str(caught.value)
        limiter = shared_limiter("key-right-pass", storage=f"redis://:right-redis-pass@127.0.0.1:{server.port}/0")
        assert _kept(limiter).acquire() == 0


def test_redis_going_away_mid_run_fails_the_call_instead_of_falling_back() -> None:
    server = RedisServer()
    try:
        limiter = _kept(shared_limiter("key-goes-away", 30, 30.0, 0.02, storage=server.url))
        limiter.acquire()
    finally:
        server.stop()
    with pytest.raises(RateLimitStorageError, match="did not answer"):
        limiter.acquire()


def test_accounts_have_budgets_of_their_own(redis_server: RedisServer) -> None:
    a = _kept(shared_limiter("account-a", 2, 30.0, 0.0, storage=redis_server.url))
    b = _kept(shared_limiter("account-b", 2, 30.0, 0.0, storage=redis_server.url))
    assert a is shared_limiter("account-a", 2, 30.0, 0.0, storage=redis_server.url)
    for limiter in (a, a, b, b):
        assert limiter.acquire() == 0  # two calls each at once: neither account spends the other's budget


class _Conn:
    conn_id = "acct"
    host = "http://127.0.0.1:1"
    port = None
    login = "key"
    password = "secret"

    def __init__(self, **extra: object):
        self.extra_dejson = {"access_token": "token", **extra}


def test_the_connection_reads_the_storage_url_and_rejects_anything_else() -> None:
    assert LongPortSettings.from_connection(_Conn()).rate_limit_storage is None
    assert LongPortSettings.from_connection(_Conn(rate_limit_storage="  ")).rate_limit_storage is None
    url = "redis://redis-host:6379/0"
    assert LongPortSettings.from_connection(_Conn(rate_limit_storage=f" {url} ")).rate_limit_storage == url
    assert LongPortSettings.from_connection(_Conn(extra__longport__rate_limit_storage=url)).rate_limit_storage == url
    with pytest.raises(LongPortConfigError, match=r"'rate_limit_storage' must be a Redis URL .*'http://:\*\*\*@h:1'"):
        LongPortSettings.from_connection(_Conn(rate_limit_storage="http://:pw@h:1"))
    assert redact_url("rediss://user:pw@h:6380/2") == "rediss://user:***@h:6380/2"


def test_the_connection_form_shows_the_storage_field() -> None:
    from airflow_provider_cashflow.get_provider_info import get_provider_info
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    (conn_type,) = get_provider_info()["connection-types"]
    field = conn_type["conn-fields"]["rate_limit_storage"]
    assert "Redis" in field["label"] and "format" not in field["schema"]
    assert conn_type["ui-field-behaviour"]["placeholders"]["rate_limit_storage"].startswith("redis://")
    assert "rate_limit_storage" in CashflowHook.get_connection_form_widgets()


def test_a_call_counts_from_its_answer_on_redis_s_clock(redis_server: RedisServer) -> None:
    store = RedisBudgetStore(redis_server.url, "test:{answered}")
    limiter = _kept(RateLimiter(2, 5.0, 0.02, margin=0.05, store=store))

    def redis_now() -> float:
        seconds, micros = store._redis.time()
        return seconds + micros / 1e6

    def calls() -> list[float]:
        return [float(t) for t in store._redis.lrange("test:{answered}:calls", 0, -1)]

    with limiter.turn():
        granted = store.last_stamp
        time.sleep(0.4)  # a stall between the grant and the call's answer
    after = redis_now()
    assert granted is not None and granted - 0.05 + 0.4 <= calls()[0] <= after  # its answer, with no margin
    with limiter.turn():
        pass
    assert store.last_stamp is not None and store.last_stamp - granted >= 0.4 + 0.02  # the gap from that answer
    assert len(calls()) == 2 and calls() == sorted(calls())
    before = redis_now()
    with pytest.raises(OSError), limiter.turn():
        raise OSError("reset")  # no answer: the request may still reach the server
    assert max(calls()) >= before + 0.05  # so it counts from the margin past the failure
