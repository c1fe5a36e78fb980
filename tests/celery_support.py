"""Airflow as production runs it on several machines: PostgreSQL, Redis as Celery's broker, and the scheduler,
api-server, dag-processor and Celery workers as separate processes, each in its own process group.

Every process started here is stopped by :meth:`CeleryAirflow.stop` / :meth:`PostgresServer.stop`, which a
test calls in a ``finally``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from airflow_support import AIRFLOW, AirflowHome, wait_for_runs
from process_support import free_port


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} is missing: run `make test` (it installs the Debian package postgresql)")
    return found


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port. PostgreSQL refuses to run as root, so the cluster
    belongs to the ``postgres`` user; its data and socket folders live in a temporary folder of its own (pytest's
    are closed to other users)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="airflow-pg-"))
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "server.log"
        self.sockets.mkdir()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"
        self.started = False
        shutil.chown(self.root, "postgres")
        shutil.chown(self.sockets, "postgres")

    def _as_postgres(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        self._as_postgres(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.started = True
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        self._as_postgres(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "airflow")
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.killpg(os.getpgid(pid), signal.SIGKILL)  # pg_ctl starts the postmaster in a session of its own
        except (OSError, ValueError, IndexError):
            pass


class CeleryAirflow:
    """scheduler + api-server + dag-processor + ``workers`` Celery workers; each worker gets its own TMPDIR,
    as if it ran on a machine of its own (the per-machine rate-limit file lives there)."""

    COMPONENTS = ("scheduler", "dag-processor", "api-server")

    def __init__(self, home: AirflowHome, database_url: str, broker_url: str, *, workers: int = 2, concurrency: int = 2):
        self.home = home
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        home.env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", None)  # SQLite's; psycopg2 rejects them
        home.env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),  # one secret for every component
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        })
        self.machines = [home.home / f"machine{i + 1}" for i in range(workers)]
        self.concurrency = concurrency
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def _spawn(self, name: str, args: list[str], **env: str) -> None:
        self.logs[name] = self.home.home / f"{name}.log"
        with open(self.logs[name], "wb") as log:
            self.processes[name] = subprocess.Popen([AIRFLOW, *args], env={**self.home.env, **env}, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)

    def spawn(self) -> CeleryAirflow:
        """Start every process; :meth:`wait_ready` waits for them (CLI commands may run in between)."""
        for component in self.COMPONENTS:
            self._spawn(component, [component])
        for i, machine in enumerate(self.machines, start=1):
            (machine / "tmp").mkdir(parents=True, exist_ok=True)
            self._spawn(f"worker{i}", ["celery", "worker", "--celery-hostname", f"worker{i}@%h",
                                       "--concurrency", str(self.concurrency)], TMPDIR=str(machine / "tmp"))
        return self

    def wait_ready(self, timeout: float = 300) -> CeleryAirflow:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited:\n" + "\n".join(self.log_tail(n) for n in dead))
            try:
                health = self.get("/api/v2/monitor/health")
                ready = all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor"))
                if ready and all("ready" in self.log_tail(f"worker{i}") for i in range(1, len(self.machines) + 1)):
                    return self
            except OSError:
                pass
            time.sleep(2)
        raise RuntimeError(f"Airflow with Celery not ready after {timeout} s:\n" + "\n".join(map(self.log_tail, self.logs)))

    def stop(self) -> None:
        """SIGTERM to every process group, then SIGKILL to whatever is left (the task processes too)."""
        groups = [p.pid for p in self.processes.values()]  # each leads its group, and its children outlive it
        for group in groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(p.poll() is None for p in self.processes.values()):
            time.sleep(0.5)
        for group in groups:
            _signal_group(group, signal.SIGKILL)
        for process in self.processes.values():
            process.wait(timeout=30)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return f"--- {name}:\n" + self.logs[name].read_text(errors="replace")[-chars:]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=500&order_by=logical_date")["dag_runs"]

    def wait_for_backfills(self, dag_id: str, count: int, timeout: float = 600) -> None:
        """Wait until ``count`` backfills of the DAG exist and every one has completed."""
        deadline = time.monotonic() + timeout
        backfills: list[dict] = []
        while time.monotonic() < deadline:
            backfills = self.get(f"/api/v2/backfills?dag_id={dag_id}")["backfills"]
            if len(backfills) >= count and all(b.get("completed_at") for b in backfills):
                return
            time.sleep(1)
        raise AssertionError(f"backfills not completed in {timeout} s: {backfills}\n" + "\n".join(map(self.log_tail, self.logs)))

    def wait_for_runs(self, dag_id: str, logical_dates: set[str], timeout: float = 300) -> dict[str, str]:
        """Wait until the runs with these logical dates (YYYY-MM-DD) are finished; returns their states."""
        return wait_for_runs(lambda: self.runs(dag_id), logical_dates, timeout, interval=1,
                             explain=lambda: "\n".join(map(self.log_tail, self.logs)))

def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass
