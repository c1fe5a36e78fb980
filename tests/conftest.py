"""Shared fixtures: a real sandbox on loopback (in-process or as a child process) and Airflow connections."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from hypothesis import settings

from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess

from redis_support import RedisServer

# Property tests assert outcomes, not speed: on a machine shared with other builds an example may take longer
# than Hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("outcomes", deadline=None)
settings.load_profile("outcomes")

# A fixed anchor keeps windows and data repeatable; signatures still use the real clock.
END = datetime(2026, 11, 20, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SPEC = DatasetSpec(seed=11, days=10, per_day=30, end=END)
UNLIMITED = {"rate_limit_calls": 100000, "rate_limit_period": 1}


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return Dataset(SPEC)


@pytest.fixture
def sandbox(dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh sandbox without rate limit, registered as ``longport_default``; stopped even if the test fails."""
    with Sandbox(dataset, rate_limit=False) as server:
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=2))
        yield server


@pytest.fixture
def sandbox_process() -> Iterator[SandboxProcess]:
    with SandboxProcess("--seed", str(SPEC.seed), "--days", str(SPEC.days), "--per-day", str(SPEC.per_day),
                        "--end", END.isoformat(), "--no-rate-limit") as process:
        yield process


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, stopped even if the test fails."""
    with RedisServer() as server:
        yield server


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def truth(dataset: Dataset, start: datetime, end: datetime) -> list[dict]:
    """The sandbox's own records of ``[start, end)`` in API order."""
    return list(dataset.window(int(start.timestamp()), int(end.timestamp())))


_TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries the marker of its tier, the folder it lives in (``make test-fast`` runs ``-m unit``)."""
    for item in items:
        tier = next((part for part in item.path.parts if part in _TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests that need no metadata DB still import Airflow; keep it away from ~/airflow.
    home = tmp_path_factory.getbasetemp() / "airflow_home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
