"""The suite's fixtures: a real sandbox on loopback (in-process or as a child process), real Redis and S3
servers, and an Airflow home kept away from ~/airflow. The helpers they build on are in ``tests/helpers/``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from airflow_provider_cashflow.sandbox import Dataset, Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.connections import set_connection
from tests.helpers.data import SPEC, SPEC_ARGS, UNLIMITED
from tests.helpers.servers import MotoServer, RedisServer

# Property tests assert outcomes, not speed: on a machine shared with other builds an example may take longer
# than Hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("outcomes", deadline=None)
settings.load_profile("outcomes")


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
    with SandboxProcess(*SPEC_ARGS, "--no-rate-limit") as process:
        yield process


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, stopped even if the test fails."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[MotoServer]:
    """A moto server with a bucket ``lake``, one per test module: Airflow caches a filesystem per connection id,
    so the endpoint must not move within a module."""
    server = MotoServer()
    try:
        server.client().create_bucket(Bucket="lake")
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep boto3 away from any real account or instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


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
