"""Real Airflow in subprocesses: a throwaway AIRFLOW_HOME, ``airflow db migrate``, the CLI, the metadata DB."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class AirflowHome:
    """One AIRFLOW_HOME with its own SQLite metadata DB; every command gets the same environment."""

    def __init__(self, home: Path, **env: str):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            **env,
        }

    def run(self, *args: str, check: bool = True, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=timeout, env={**self.env, **env})
        if check and result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def migrate(self) -> None:
        self.run("db", "migrate")
        self.run("pools", "set", "longport_api", "2", "LongPort cash-flow API budget")

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
