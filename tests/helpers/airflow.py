"""Real Airflow in subprocesses: a throwaway AIRFLOW_HOME, ``airflow db migrate``, the CLI, the metadata DB."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers.processes import free_port, stop_groups

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
# The toolkit's programs run as modules of the repository (``-m``): a script's own folder would come first on
# its path, and this one's airflow.py and operator.py would hide the real airflow and the stdlib's operator.
PROGRAM_ENV: dict[str, Any] = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def program(name: str) -> list[str]:
    """The arguments that run ``tests/helpers/NAME.py`` as a program (with :data:`PROGRAM_ENV`)."""
    return ["-m", f"tests.helpers.{name}"]


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

    @property
    def dags_folder(self) -> Path:
        return Path(self.env["AIRFLOW__CORE__DAGS_FOLDER"])

    @property
    def lake(self) -> Path:
        """Where the example DAGs write (``LONGPORT_CASHFLOW_OUTPUT``)."""
        return Path(self.env["LONGPORT_CASHFLOW_OUTPUT"].removeprefix("file://"))

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, program: str = AIRFLOW, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``airflow ARGS`` (or ``program ARGS``) in this home."""
        result = subprocess.run(
            [program, *args], capture_output=True, text=True, timeout=timeout, env={**self.env, **env}
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{Path(program).name} {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def run_beside_scheduler(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A CLI command that reads then writes while a scheduler runs: its transactions take the write lock as
        they begin (see ``sqlite_local_settings.py``)."""
        return self.run(*args, check=check, E2E_SQLITE_BEGIN_IMMEDIATE="1")

    def api(self, requests: list[list[Any]], **env: Any) -> list[list[Any]]:
        """Airflow's REST API in-process against this home (see ``api_probe.py``): each ``[method, path, body]``
        in order, as the all-admins user; returns ``[status, json]`` for each."""
        result = self.run(*program("api_probe"), json.dumps(requests), program=sys.executable, **env, **PROGRAM_ENV)
        (line,) = [line for line in result.stdout.splitlines() if line.startswith("API-PROBE ")]
        return json.loads(line.removeprefix("API-PROBE "))

    def dags_test(self, runs: list[tuple[str, str]]) -> list[str]:
        """``airflow dags test DAG_ID LOGICAL_DATE`` for each ``(dag_id, logical_date)``, in order, in one process
        (see ``dags_test.py``); each run's outcome, ``"success"`` or why it failed."""
        result = self.run(*program("dags_test"), json.dumps(runs), program=sys.executable, **PROGRAM_ENV)
        (line,) = [line for line in result.stdout.splitlines() if line.startswith("DAGS-TEST ")]
        outcomes: list[str] = json.loads(line.removeprefix("DAGS-TEST "))
        return outcomes

    def migrate_db(self) -> None:
        """This home's metadata DB as ``airflow db migrate`` leaves it, in WAL mode, with the ``longport_api``
        pool (2 slots): a copy of the one DB this process migrated (see :func:`_migrated_db`)."""
        shutil.copy(_migrated_db(), self.home / "airflow.db")
        with sqlite3.connect(self.home / "airflow.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def migrate(self) -> None:
        """:meth:`migrate_db`, and the DAGs registered where ``dags test`` needs it."""
        self.migrate_db()
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


def backfill_args(dag_id: str, first: datetime, last: datetime, max_active_runs: int) -> list[str]:
    """``airflow backfill create``'s arguments for the logical dates from ``first`` to ``last`` (their days)."""
    return [
        "--dag-id",
        dag_id,
        "--from-date",
        first.date().isoformat(),
        "--to-date",
        last.date().isoformat(),
        "--max-active-runs",
        str(max_active_runs),
    ]


_MIGRATED: Path | None = None


def _migrated_db() -> Path:
    """One ``airflow db migrate`` per test process, in a home of its own; every :class:`AirflowHome` starts from
    a copy. The migration takes 20-60 s on a busy 2-core machine and leaves the same file every time."""
    global _MIGRATED
    if _MIGRATED is None:
        root = Path(tempfile.mkdtemp(prefix="airflow-migrated-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        template = AirflowHome(root / "home")
        template.run("db", "migrate")
        # WAL: readers never block the writer, so a CLI command and the running scheduler do not deadlock on
        # a lock upgrade (which SQLite reports at once as "database is locked", whatever the busy timeout).
        with sqlite3.connect(template.home / "airflow.db") as db:
            assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        template.run("pools", "set", "longport_api", "2", "LongPort cash-flow API budget")
        with sqlite3.connect(template.home / "airflow.db") as db:  # everything in the one file to copy
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _MIGRATED = template.home / "airflow.db"
    return _MIGRATED


def wait_for_runs(
    runs: Callable[[], list[dict]],
    logical_dates: set[str],
    timeout: float,
    *,
    interval: float,
    explain: Callable[[], str] = str,
) -> dict[str, str]:
    """Poll ``runs()`` until the runs with these logical dates (YYYY-MM-DD) are finished; returns their states."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {r["logical_date"][:10]: r["state"] for r in runs() if r["logical_date"][:10] in logical_dates}
        if set(states) == logical_dates and all(s in ("success", "failed") for s in states.values()):
            return states
        time.sleep(interval)
    raise AssertionError(f"runs did not finish in {timeout} s: {states}\n{explain()}")


class AirflowApi:
    """Reading a running Airflow through its REST API, as the admin (``token``) or in all-admins mode.

    Only reads, on purpose: every write goes through Airflow's audit-log dependency, which commits on the API
    server's event loop. On SQLite that commit can wait for the lock held by a task's heartbeat request, whose
    own commit needs the event loop: the whole server, and with it every task and the scheduler, froze for the
    120 s busy timeout, then the write failed with a 500.
    """

    url: str
    token: str | None = None  # a bearer token; without one, the all-admins mode lets every request in
    poll: float = 2.0  # seconds between two looks at runs and backfills

    def explain(self) -> str:
        """What to print when a wait fails: the end of the components' logs."""
        raise NotImplementedError

    def get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers), timeout=30) as answer:
                return json.loads(answer.read())
        except OSError as error:
            raise AssertionError(f"GET {path} failed: {error!r}\n{self.explain()}") from error

    def healthy(self) -> bool:
        """The scheduler and the dag processor report healthy (``False`` while the API server is not up)."""
        try:
            with urllib.request.urlopen(self.url + "/api/v2/monitor/health", timeout=30) as response:
                health = json.loads(response.read())
        except OSError:
            return False
        return all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor"))

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=500&order_by=logical_date")["dag_runs"]

    def wait_for_runs(self, dag_id: str, logical_dates: set[str], timeout: float = 300) -> dict[str, str]:
        """Wait until the runs with these logical dates (YYYY-MM-DD) are finished; returns their states."""
        return wait_for_runs(
            lambda: self.runs(dag_id), logical_dates, timeout, interval=self.poll, explain=self.explain
        )

    def wait_for_backfills(self, dag_id: str, count: int = 1, timeout: float = 600) -> None:
        """Wait until ``count`` backfills of the DAG exist (``0``: any number) and every one has completed."""
        deadline = time.monotonic() + timeout
        backfills: list[dict] = []
        while time.monotonic() < deadline:
            backfills = self.get(f"/api/v2/backfills?dag_id={dag_id}")["backfills"]
            if len(backfills) >= count and all(b.get("completed_at") for b in backfills):
                return
            time.sleep(self.poll)
        raise AssertionError(f"backfills of {dag_id} not completed in {timeout} s: {backfills}\n{self.explain()}")


class AirflowServer(AirflowApi):
    """``airflow standalone`` (api-server, scheduler, dag-processor, triggerer; LocalExecutor) in its own
    process group on a free port, so that stopping it stops every child too.

    :param password: the user ``admin`` logs in with it (the UI's login page; the REST API with a token);
        without one, the all-admins mode lets everyone in.
    """

    def __init__(self, home: AirflowHome, *, password: str | None = None):
        self.home = home
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.password = password
        home.env.update(
            {
                "AIRFLOW__API__HOST": "127.0.0.1",  # loopback only
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            }
        )
        if password is not None:
            passwords = home.home / "passwords.json"
            passwords.write_text(json.dumps({"admin": password}))
            home.env.update(
                {
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                }
            )
        self.log = home.home / "standalone.log"  # in the test's own directory: nothing is left in /tmp
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240) -> AirflowServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [AIRFLOW, "standalone"], env=self.home.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited: {self.log_tail()}")
            if self.healthy():
                if self.password is not None:
                    self.token = self._log_in(self.password)
                return self
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"airflow standalone not healthy after {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_groups([self.process])  # the workers and servers it started too

    def _log_in(self, password: str) -> str:
        body = json.dumps({"username": "admin", "password": password}).encode()
        request = urllib.request.Request(
            self.url + "/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            token: str = json.loads(answer.read())["access_token"]
        return token

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Until the dag processor has parsed every one of these DAGs."""
        deadline = time.monotonic() + timeout
        known: set[str] = set()
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in self.get("/api/v2/dags?limit=1000")["dags"]}
            if set(dag_ids) <= known:
                return
            time.sleep(2)
        raise AssertionError(
            f"the dag processor did not parse {set(dag_ids) - known}: {self.get('/api/v2/importErrors')}"
        )

    def explain(self) -> str:
        return f"airflow standalone's log ends:\n{self.log_tail()}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def create_backfill(self, *args: str) -> None:
        """``airflow backfill create ARGS`` beside the running scheduler, retried should it still lose SQLite's lock.

        Run plainly, it failed 5 times in 13 with "database is locked"; beside the scheduler, 0 in 8. On a lock
        error Airflow removes the backfill it had begun; should that clean-up fail too, the half-made
        backfill blocks the next create until its runs are done, so wait for it rather than cancel it (cancel
        is a write: see :class:`AirflowApi`). PostgreSQL, what production uses, does not lose locks like this.
        """
        dag_id = args[args.index("--dag-id") + 1]
        for attempt in range(4):
            result = self.home.run_beside_scheduler("backfill", "create", *args, check=False)
            if result.returncode == 0:
                return
            if "database is locked" not in result.stderr or attempt == 3:
                raise AssertionError(f"airflow backfill create failed:\n{result.stderr[-4000:]}")
            self.wait_for_backfills(dag_id, count=0, timeout=300)
            time.sleep(3)
