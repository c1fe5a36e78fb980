"""The shared budget survives Redis losing it: a real ``redis-server`` killed and started again empty between the
calls of two workers of one account, against the sandbox with its rate limit on (scaled down in time)."""

from __future__ import annotations

import subprocess
import sys

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.data import SPEC_ARGS
from tests.helpers.servers import RedisServer

# The live 30 calls / 30 s scaled down to 10 calls / 3 s, as in e2e/test_distributed.py: what is proved here, that
# the calls Redis lost are waited out, does not depend on the window's length.
CALLS, WINDOW = 10, 3.0
BUDGET = (str(CALLS), str(WINDOW))

# A worker: one process of one account, its own limiter, only Redis in common with the others. It reaches Redis
# and says "ready", then makes its calls when told to (each a page of its own, so no two carry one signature).
WORKER = """
import sys
from datetime import datetime, timedelta, timezone
from airflow_provider_cashflow.client.account_budget import shared_limiter
from airflow_provider_cashflow.client.auth import SignatureAuth
from airflow_provider_cashflow.client.longport_client import LongPortClient
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.windows import Window
base, url, first, calls, limit, window = sys.argv[1:]
limiter = shared_limiter("sandbox-app-key", int(limit), float(window), 0.02, storage=url)
auth = SignatureAuth("sandbox-app-key", "sandbox-app-secret", "sandbox-access-token")
end = datetime(2026, 11, 20, tzinfo=timezone.utc)
query = CashFlowQuery(Window.of(end - timedelta(days=1), end), page_size=1)
print("ready", flush=True)
sys.stdin.readline()
with LongPortClient(base, auth, limiter=limiter) as client:
    for page in range(int(first), int(first) + int(calls)):
        client.get_cash_flow_page(query, page)
print("done", flush=True)
"""


def _workers(base_url: str, redis_url: str, first_page: int, count: int) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                base_url,
                redis_url,
                str(first_page + 100 * i),
                str(CALLS // count),
                *BUDGET,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    # each has imported and reached Redis: a loaded machine may start one interpreter seconds after another
    assert [p.stdout.readline().strip() for p in procs if p.stdout] == ["ready"] * count
    return procs


def _go(procs: list[subprocess.Popen[str]]) -> None:
    outputs = [p.communicate("go\n", timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs) and all("done" in out for out in outputs)


def _most_in_one_window(arrivals: list[float]) -> int:
    return max((sum(a <= b < a + WINDOW for b in arrivals) for a in arrivals), default=0)


def test_no_call_is_rejected_after_redis_restarts_empty() -> None:
    limit = ("--rate-limit-calls", str(CALLS), "--rate-limit-period", str(WINDOW))
    with SandboxProcess(*SPEC_ARGS, *limit) as sandbox, RedisServer() as redis:
        before, after = _workers(sandbox.base_url, redis.url, 1, 2), _workers(sandbox.base_url, redis.url, 1000, 2)
        try:
            _go(before)  # the whole budget, spent by two workers at once ...
            spent = sandbox.stats()
            redis.restart_empty()  # ... then Redis crashes and comes back without it
            _go(after)  # the reruns, started as soon as Redis answers
        finally:
            for p in before + after:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        stats = sandbox.stats()
    arrivals = [arrived for arrived, _ in stats["recent_pages"]]
    assert spent["pages_served"] == CALLS and spent["rejected_rate_limit"] == 0
    # the calls before the crash filled a window, so a fresh budget spent at once would have been refused ...
    assert _most_in_one_window(arrivals[:CALLS]) == CALLS
    # ... but the reruns waited for the server's window to pass: the server refused none of their calls
    assert stats["rejected_rate_limit"] == 0 and stats["pages_served"] == 2 * CALLS
    assert arrivals[CALLS] - arrivals[0] >= WINDOW
    print(f"\nafter the restart the first call waited {arrivals[CALLS] - arrivals[CALLS - 1]:.2f} s; 0 rejected")
