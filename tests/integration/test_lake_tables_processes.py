"""Lake tables under real task processes: four accounts committing into one table at once (each catalog and format),
and a task SIGKILLed in the middle of its commit, on S3 through a moto server, which leaves the table as the run
before left it. Each table is read back with DuckDB and compared with the sandbox's truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.airflow import PROGRAM_ENV, program
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, day_bounds, expected
from tests.helpers.operator import run_operator
from tests.helpers.servers import MotoServer, PostgresServer
from tests.helpers.tables import HoldingProxy, duck, rows_by_day, same_rows, scan, sqlite_catalog

ACCOUNTS = ["fund_a", "fund_b", "fund_c", "fund_d"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


def _task(kwargs: dict[str, Any], log: Path, start_at: float | None = None) -> subprocess.Popen:
    spec = {"start": (END - DAY).isoformat(), "end": END.isoformat(), "kwargs": kwargs, "start_at": start_at}
    return subprocess.Popen(
        [sys.executable, *program("task_process"), json.dumps(spec)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **PROGRAM_ENV},
    )


def _location(table: str) -> tuple[str, str]:
    """The format and what DuckDB scans: an Iceberg table's current metadata file (from its catalog)."""
    table_format, _, name = table.partition(":")
    if table_format == "delta":
        return table_format, name
    from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

    return table_format, IcebergHook().load_table(name).metadata_location


# Iceberg through the catalog many machines share (PostgreSQL); the embedded SQLite one serves one machine
@pytest.mark.parametrize("catalog", ["iceberg-postgres", "delta"])
def test_four_accounts_commit_into_one_table_at_once(
    catalog: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    for account in ACCOUNTS:
        set_connection(monkeypatch, account, sandbox.connection(**UNLIMITED, timeout=30))  # a busy machine
    if catalog == "delta":
        table = f"delta:{(tmp_path / 'flows').as_uri()}"
    else:
        conn = sqlite_catalog(tmp_path / "catalog")
        if catalog == "iceberg-postgres":  # the catalog many machines share
            conn["extra"]["uri"] = request.getfixturevalue("postgres").url
        set_connection(monkeypatch, "iceberg_default", conn)
        table = "iceberg:cashflow.flows"
    start_at = time.time() + 8  # every process imported and waiting, then all at once
    tasks = [
        _task({"longport_conn_id": a, "table": table, "lookback": 2}, tmp_path / f"{a}.log", start_at) for a in ACCOUNTS
    ]
    for task, account in zip(tasks, ACCOUNTS, strict=True):
        assert task.wait(timeout=420) == 0, (tmp_path / f"{account}.log").read_text()[-3000:]
    table_format, location = _location(table)
    with duck() as con:
        for account in ACCOUNTS:
            days = rows_by_day(con, scan(table_format, location), account)
            assert sorted(days) == ["2026-11-17", "2026-11-18", "2026-11-19"], account
            for day, rows in days.items():
                assert same_rows(rows, expected(sandbox, *day_bounds(day))), (account, day)
        # no commit lost: one per account, each a version or an append snapshot of its own
        if table_format == "delta":
            runs = con.execute(f"SELECT count(DISTINCT account) FROM {scan(table_format, location)}").fetchone()
            assert runs == (4,)
    if table_format == "delta":
        from deltalake import DeltaTable

        writes = [h for h in DeltaTable(location).history() if h["operation"] == "WRITE"]
        assert len({h["airflow-provider-cashflow.run"] for h in writes}) == 4
    else:
        from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

        snapshots = IcebergHook().load_table("cashflow.flows").snapshots()
        appends = [s for s in snapshots if s.summary.operation.value == "append"]
        assert len({s.summary["airflow-provider-cashflow.run"] for s in appends}) == 4


def _s3_connections(monkeypatch: pytest.MonkeyPatch, endpoint: str, root: Path) -> None:
    """``aws_default`` (Delta's storage) and ``iceberg_default`` (a SQLite catalog, its warehouse on S3), both at
    ``endpoint``: moto, or the proxy in front of it."""
    aws = {"conn_type": "aws", "login": "testing", "password": "testing"}
    set_connection(monkeypatch, "aws_default", {**aws, "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}})
    catalog = sqlite_catalog(root, warehouse="s3://lake/warehouse")
    catalog["extra"].update(
        {
            "s3.endpoint": endpoint,
            "s3.access-key-id": "testing",
            "s3.secret-access-key": "testing",
            "s3.region": "us-east-1",
        }
    )
    set_connection(monkeypatch, "iceberg_default", catalog)


# the request that commits: Delta's next log entry; Iceberg's next metadata file, which the catalog then points to
COMMITS = {"delta": rb"PUT [^ ]*_delta_log/0+1\.json", "iceberg": rb"PUT [^ ]*/metadata/00002-[^ ]*\.metadata\.json"}


@pytest.mark.parametrize("table_format", ["iceberg", "delta"])
def test_a_task_killed_in_the_middle_of_its_commit_leaves_the_previous_state_on_s3(
    table_format: str,
    sandbox: Sandbox,
    s3_server: MotoServer,
    s3_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto = s3_server
    table = f"delta:s3://lake/{tmp_path.name}" if table_format == "delta" else "iceberg:cashflow.flows"
    # the task process's calls to this process's sandbox wait for a busy machine, not for a slow network
    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, timeout=30))
    _s3_connections(monkeypatch, moto.endpoint, tmp_path / "catalog")
    first, _, _ = run_operator(END - 2 * DAY, END - DAY, table=table)  # the state to keep: one day
    with duck(moto) as con:
        before = rows_by_day(con, _scan(first), "longport_default")
    assert list(before) == ["2026-11-18"]

    proxy = HoldingProxy(moto.port, COMMITS[table_format])
    try:
        _s3_connections(monkeypatch, proxy.endpoint, tmp_path / "catalog")
        child = _task({"table": table, "lookback": 1}, tmp_path / "task.log")
        try:
            deadline = time.monotonic() + 300  # a loaded machine imports Airflow slowly
            while not proxy.held.wait(timeout=0.5):
                assert child.poll() is None and time.monotonic() < deadline, (tmp_path / "task.log").read_text()[-3000:]
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        proxy.stop()

    _s3_connections(monkeypatch, moto.endpoint, tmp_path / "catalog")
    table_format, location = _location(table) if table_format == "iceberg" else (table_format, table[6:])
    if table_format == "iceberg":
        assert location == first["table"]["metadata_location"]  # the catalog still points at the first commit
    with duck(moto) as con:
        assert rows_by_day(con, scan(table_format, location), "longport_default") == before
    # the next run commits over what the killed one left (data files no snapshot or version names)
    again, _, _ = run_operator(END - DAY, END, table=table, lookback=1)
    with duck(moto) as con:
        days = rows_by_day(con, _scan(again), "longport_default")
    assert sorted(days) == ["2026-11-18", "2026-11-19"]
    for day, rows in days.items():
        assert same_rows(rows, expected(sandbox, *day_bounds(day))), day


def _scan(manifest: dict[str, Any]) -> str:
    table = manifest["table"]
    return scan(table["format"], table["metadata_location"] if table["format"] == "iceberg" else table["location"])
