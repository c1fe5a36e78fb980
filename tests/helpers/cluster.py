"""Airflow as production runs it on several machines: the scheduler, api-server, dag-processor and Celery
workers as separate processes, each in its own process group, on PostgreSQL with Redis as Celery's broker
(see :mod:`tests.helpers.servers`). Every process started here is stopped by :meth:`CeleryAirflow.stop`.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.helpers.airflow import AIRFLOW, AirflowApi, AirflowHome
from tests.helpers.processes import free_port, stop_groups


class CeleryAirflow(AirflowApi):
    """scheduler + api-server + dag-processor + ``workers`` Celery workers; each worker gets its own TMPDIR,
    as if it ran on a machine of its own (the per-machine rate-limit file lives there)."""

    COMPONENTS = ("scheduler", "dag-processor", "api-server")
    poll = 1.0

    def __init__(
        self, home: AirflowHome, database_url: str, broker_url: str, *, workers: int = 2, concurrency: int = 2
    ):
        self.home = home
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        home.env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", None)  # SQLite's; psycopg2 rejects them
        home.env.update(
            {
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
            }
        )
        self.machines = [home.home / f"machine{i + 1}" for i in range(workers)]
        self.concurrency = concurrency
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def _spawn(self, name: str, args: list[str], **env: str) -> None:
        self.logs[name] = self.home.home / f"{name}.log"
        with open(self.logs[name], "wb") as log:
            self.processes[name] = subprocess.Popen(
                [AIRFLOW, *args],
                env={**self.home.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def spawn(self) -> CeleryAirflow:
        """Start every process; :meth:`wait_ready` waits for them (CLI commands may run in between)."""
        for component in self.COMPONENTS:
            self._spawn(component, [component])
        for i, machine in enumerate(self.machines, start=1):
            (machine / "tmp").mkdir(parents=True, exist_ok=True)
            self._spawn(
                f"worker{i}",
                ["celery", "worker", "--celery-hostname", f"worker{i}@%h", "--concurrency", str(self.concurrency)],
                TMPDIR=str(machine / "tmp"),
            )
        return self

    def wait_ready(self, timeout: float = 300) -> CeleryAirflow:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited:\n" + "\n".join(self.log_tail(n) for n in dead))
            workers_ready = all("ready" in self.log_tail(f"worker{i}") for i in range(1, len(self.machines) + 1))
            if workers_ready and self.healthy():
                return self
            time.sleep(2)
        raise RuntimeError(f"Airflow with Celery not ready after {timeout} s:\n" + self.explain())

    def stop(self) -> None:
        """SIGTERM to every process group, then SIGKILL to whatever is left (the task processes too)."""
        stop_groups(self.processes.values())

    def explain(self) -> str:
        return "\n".join(map(self.log_tail, self.logs))

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return f"--- {name}:\n" + self.logs[name].read_text(errors="replace")[-chars:]
