"""A real distributed run: CeleryExecutor with two workers (each its own TMPDIR, as if on two machines),
PostgreSQL, Redis as broker and as the shared rate-limit budget, against the sandbox with its limit on (scaled
down in time, see ``BUDGET``).

Two weeks of one account are backfilled with a page size small enough for several budgets' worth of calls:
first with ``rate_limit_storage`` (one budget in Redis), then again with the per-machine default. Figures are
printed.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowHome, backfill_args
from tests.helpers.cluster import CeleryAirflow
from tests.helpers.connections import connection_json
from tests.helpers.lake import assert_days_exact, files
from tests.helpers.servers import PostgresServer, RedisServer

DAG_ID = "example_cashflow_daily"
DAY = timedelta(days=1)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
FIRST, LAST = TODAY - 15 * DAY, TODAY - 2 * DAY  # fourteen logical dates, each a one-day interval
BACKFILL = {(FIRST + i * DAY).date().isoformat() for i in range(14)}
PAGE_SIZE = 7  # ~20 records a day: 3 or 4 calls a run, ~50 calls a pass
# The budget in the sandbox and in the connections alike: the live 30 calls / 30 s scaled down to 10 calls / 3 s,
# so that a pass still needs five budgets' worth of calls and four tasks at once overrun one (as the live budget
# was overrun), but waits seconds, not minutes, for the next window. What this test proves, one budget shared by
# machines through Redis and one per machine without it, does not depend on the window's length: the live one is
# held in integration/test_rate_limit_and_sdk.py and e2e/test_e2e_backfill.py.
CALLS, WINDOW = 10, 3.0
BUDGET = {"rate_limit_calls": CALLS, "rate_limit_period": WINDOW}
LIMIT = ("--rate-limit-calls", str(CALLS), "--rate-limit-period", str(WINDOW))


def _ideal(calls: int) -> float:
    """The least wall time the limit allows for ``calls`` calls: a new window for every budget after the first."""
    return (math.ceil(calls / CALLS) - 1) * WINDOW


def _pass(
    cluster: CeleryAirflow,
    home: AirflowHome,
    sandbox: SandboxProcess,
    count: int,
    *extra: str,
    days: set[str] = BACKFILL,
) -> dict:
    """Backfill the two weeks and wait for ``days``' runs; the pass's figures."""
    before = sandbox.stats()
    started = time.monotonic()
    home.run("backfill", "create", *backfill_args(DAG_ID, FIRST, LAST, 4), *extra)
    cluster.wait_for_backfills(DAG_ID, count)
    states = cluster.wait_for_runs(DAG_ID, days)
    wall = time.monotonic() - started
    assert states == dict.fromkeys(days, "success"), states
    after = sandbox.stats()
    calls = after["calls"] - before["calls"]
    rejected = after["rejected_rate_limit"] - before["rejected_rate_limit"]
    served = after["pages_served"] - before["pages_served"]
    arrivals = [arrived for arrived, _ in after["recent_pages"][-served:]] if served else []
    return {
        "runs": len(states),
        "api calls": calls,
        "rejected by the rate limit": rejected,
        "most calls in one window": max((sum(a <= b < a + WINDOW for b in arrivals) for a in arrivals), default=0),
        "wall seconds": round(wall, 1),
        "ideal seconds": _ideal(calls - rejected),
    }


def _tasks_per_worker(cluster: CeleryAirflow) -> list[int]:
    return [
        len(re.findall(r"execute_workload\[[^\]]+\] received", cluster.logs[f"worker{i}"].read_text(errors="replace")))
        for i in range(1, len(cluster.machines) + 1)
    ]


def _wait_quiet(sandbox: SandboxProcess, since: float) -> None:
    """Until the sandbox's window holds no call made before ``since`` (monotonic), so a pass starts from a full
    budget."""
    calls = sandbox.stats()["calls"]
    time.sleep(max(0.0, since + WINDOW + 1 - time.monotonic()))
    assert sandbox.stats()["calls"] == calls  # nothing else ran meanwhile


def test_celery_workers_on_two_machines_share_one_budget_in_redis(tmp_path: Path) -> None:
    report: dict[str, object] = {}
    begun = time.monotonic()
    postgres = PostgresServer()
    broker = budget = cluster = None
    lake = tmp_path / "lake"
    try:
        with SandboxProcess("--days", "20", "--per-day", "20", *LIMIT) as sandbox:
            postgres.start()
            broker, budget = RedisServer(), RedisServer()  # as in production: the budget need not be the broker
            home = AirflowHome(
                tmp_path / "home",
                LONGPORT_CASHFLOW_OUTPUT=f"file://{lake}",
                AIRFLOW_VAR_LONGPORT_CASHFLOW_PAGE_SIZE=str(PAGE_SIZE),
            )
            cluster = CeleryAirflow(home, postgres.url, broker.url, workers=2, concurrency=2)
            home.run("db", "migrate")
            cluster.spawn()  # the CLI commands below run while the components boot
            home.run("pools", "set", "longport_api", "4", "LongPort cash-flow API budget")
            home.run(
                "connections",
                "add",
                "longport_default",
                "--conn-json",
                connection_json(sandbox, timeout=5, **BUDGET, rate_limit_storage=budget.url),
            )
            cluster.wait_ready()
            report["seconds to start"] = round(time.monotonic() - begun, 1)
            # unpausing also schedules the latest interval (yesterday): its run warms both workers up, and its
            # calls go through the same budget in Redis
            home.run("dags", "unpause", DAG_ID)
            yesterday = (TODAY - DAY).date().isoformat()
            assert cluster.wait_for_runs(DAG_ID, {yesterday}) == {yesterday: "success"}
            warm_up = _tasks_per_worker(cluster)

            shared = _pass(cluster, home, sandbox, 1)
            done = time.monotonic()
            tasks = _tasks_per_worker(cluster)
            shared["tasks per worker"] = [n - m for n, m in zip(tasks, warm_up, strict=False)]
            report["shared budget (rate_limit_storage = Redis)"] = shared
            first = files(lake)
            records = assert_days_exact(lake, sandbox, BACKFILL | {yesterday}, only=True)
            assert shared["api calls"] > 40, shared  # several budgets' worth
            assert shared["rejected by the rate limit"] == 0, shared
            assert all(n > 0 for n in shared["tasks per worker"]), shared  # both machines ran tasks

            home.run("connections", "delete", "longport_default")
            home.run(
                "connections", "add", "longport_default", "--conn-json", connection_json(sandbox, timeout=5, **BUDGET)
            )
            _wait_quiet(sandbox, done)
            alone = _pass(cluster, home, sandbox, 2, "--reprocess-behavior", "completed")
            alone["tasks per worker"] = [n - m for n, m in zip(_tasks_per_worker(cluster), tasks, strict=False)]
            report["per-machine budget (default)"] = alone
            assert files(lake) == first  # rejected calls were retried: the data is still exact, byte for byte
            budgets = [list((m / "tmp").glob("airflow-provider-cashflow-*.calls")) for m in cluster.machines]
            assert all(len(files) == 1 for files in budgets), budgets  # each machine kept a budget of its own
            report["records"] = records
    finally:
        groups = [p.pid for p in cluster.processes.values()] if cluster else []  # each leads its own group
        for part in (cluster, broker, budget, postgres):
            if part is not None:
                part.stop()
        print("\nDISTRIBUTED FIGURES:", json.dumps(report, indent=1))
    for group in groups:  # every process the test started is gone, the task processes with their workers
        try:
            os.killpg(group, 0)
            raise AssertionError(f"process group {group} survived")
        except ProcessLookupError:
            pass
    assert not postgres.root.exists() and postgres.started is False
