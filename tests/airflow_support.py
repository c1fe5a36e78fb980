"""Real Airflow in subprocesses: a throwaway AIRFLOW_HOME, ``airflow db migrate``, the CLI, the metadata DB."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from process_support import free_port

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class AirflowHome:
    """One AIRFLOW_HOME with its own SQLite metadata DB; every command gets the same environment."""

    def __init__(self, home: Path, **env: str):
        self.home = home
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        (home / "config").mkdir(exist_ok=True)
        shutil.copy(Path(__file__).with_name("sqlite_local_settings.py"), home / "config" / "airflow_local_settings.py")
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_local_settings.connect_args",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            # the rate limiter's shared file lives in TMPDIR: one per test Airflow, as one per real worker
            "TMPDIR": str(home / "tmp"),
            **env,
        }

    def run(self, *args: str, check: bool = True, timeout: float = 600, program: str = AIRFLOW,
            **env: str) -> subprocess.CompletedProcess[str]:
        """``airflow ARGS`` (or ``program ARGS``) in this home."""
        result = subprocess.run([program, *args], capture_output=True, text=True, timeout=timeout, env={**self.env, **env})
        if check and result.returncode != 0:
            raise AssertionError(f"{Path(program).name} {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def run_beside_scheduler(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A CLI command that reads then writes while a scheduler runs: its transactions take the write lock as
        they begin (see ``sqlite_local_settings.py``)."""
        return self.run(*args, check=check, E2E_SQLITE_BEGIN_IMMEDIATE="1")

    def migrate(self) -> None:
        self.run("db", "migrate")
        # WAL: readers never block the writer, so a CLI command and the running scheduler do not deadlock on
        # a lock upgrade (which SQLite reports at once as "database is locked", whatever the busy timeout).
        with sqlite3.connect(self.home / "airflow.db") as db:
            assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        self.run("pools", "set", "longport_api", "2", "LongPort cash-flow API budget")
        self.register_dags()

    def register_dags(self) -> None:
        """What the README tells Airflow 3.0 users to do once before ``airflow dags test``: that version's ``dags
        test`` does not register a DAG's assets, and a task with an ``Asset`` outlet then fails as inactive."""
        from airflow_provider_cashflow.compat import AIRFLOW_VERSION

        if AIRFLOW_VERSION < (3, 1):
            self.run("dags", "reserialize")

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return list(db.execute(sql, params))

    def xcom(self, dag_id: str, task_id: str, run_id: str | None = None, key: str = "return_value") -> list[Any]:
        sql = "select value from xcom where dag_id = ? and task_id = ? and key = ?"
        params: list[Any] = [dag_id, task_id, key]
        if run_id:
            sql += " and run_id = ?"
            params.append(run_id)
        return [json.loads(value) for (value,) in self.query(sql + " order by timestamp", *params)]


def longport_connection(base_url: str, **extra: Any) -> str:
    from airflow_provider_cashflow.sandbox import DEMO

    return json.dumps({
        "conn_type": "longport", "host": base_url, "login": DEMO.app_key, "password": DEMO.app_secret,
        "extra": {"access_token": DEMO.access_token, **extra},
    })


def wait_for_runs(
    runs: Callable[[], list[dict]], logical_dates: set[str], timeout: float, *, interval: float,
    explain: Callable[[], str] = str,
) -> dict[str, str]:
    """Poll ``runs()`` until the runs with these logical dates (YYYY-MM-DD) are finished; returns their states."""
    import time

    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {r["logical_date"][:10]: r["state"] for r in runs() if r["logical_date"][:10] in logical_dates}
        if set(states) == logical_dates and all(s in ("success", "failed") for s in states.values()):
            return states
        time.sleep(interval)
    raise AssertionError(f"runs did not finish in {timeout} s: {states}\n{explain()}")


class AirflowServer:
    """``airflow standalone`` (api-server, scheduler, dag-processor, triggerer; LocalExecutor) in its own
    process group on a free port, so that stopping it stops every child too."""

    def __init__(self, home: AirflowHome):
        import tempfile

        self.home = home
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        home.env.update({
            "AIRFLOW__API__HOST": "127.0.0.1",  # loopback only
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        })
        self.log = tempfile.NamedTemporaryFile(prefix="standalone-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240) -> AirflowServer:
        import time

        self.process = subprocess.Popen([AIRFLOW, "standalone"], env=self.home.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited: {self.log_tail()}")
            try:
                health = self._request("/api/v2/monitor/health")
                if all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor")):
                    return self
            except OSError:
                pass
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"airflow standalone not healthy after {timeout} s")

    def stop(self) -> None:
        import signal
        import time

        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.5)
        try:
            os.killpg(pgid, signal.SIGKILL)  # the workers and servers it started
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def _request(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> Any:
        """GET from the REST API. Only reads, on purpose: every write goes through Airflow's audit-log
        dependency, which commits on the API server's event loop. On SQLite that commit can wait for the lock
        held by a task's heartbeat request, whose own commit needs the event loop: the whole server, and with it
        every task and the scheduler, froze for the 120 s busy timeout, then the write failed with a 500."""
        try:
            return self._request(path)
        except OSError as error:
            raise AssertionError(f"GET {path} failed: {error!r}\nairflow standalone's log ends:\n{self.log_tail()}") from error

    def log_tail(self, chars: int = 4000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def create_backfill(self, *args: str) -> None:
        """``airflow backfill create ARGS`` beside the running scheduler, retried should it still lose SQLite's lock.

        Run plainly, it failed 5 times in 13 with "database is locked"; beside the scheduler, 0 in 8. On a lock
        error Airflow removes the backfill it had begun; should that clean-up fail too, the half-made
        backfill blocks the next create until its runs are done, so wait for it rather than cancel it (cancel
        is a write: see :meth:`get`). PostgreSQL, what production uses, does not lose locks like this.
        """
        import time

        dag_id = args[args.index("--dag-id") + 1]
        for attempt in range(4):
            result = self.home.run_beside_scheduler("backfill", "create", *args, check=False)
            if result.returncode == 0:
                return
            if "database is locked" not in result.stderr or attempt == 3:
                raise AssertionError(f"airflow backfill create failed:\n{result.stderr[-4000:]}")
            self.wait_for_backfills(dag_id, allow_none=True)
            time.sleep(3)

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=500&order_by=logical_date")["dag_runs"]

    def wait_for_runs(self, dag_id: str, logical_dates: set[str], timeout: float = 300) -> dict[str, str]:
        """Wait until the runs with these logical dates (YYYY-MM-DD) are finished; returns their states."""
        return wait_for_runs(lambda: self.runs(dag_id), logical_dates, timeout, interval=2)

    def wait_for_backfills(self, dag_id: str, timeout: float = 300, allow_none: bool = False) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backfills = self.get(f"/api/v2/backfills?dag_id={dag_id}")["backfills"]
            if (backfills or allow_none) and all(b.get("completed_at") for b in backfills):
                return
            time.sleep(2)
        raise AssertionError(f"backfills of {dag_id} not completed in {timeout} s")
