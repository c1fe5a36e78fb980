"""The suite's fixtures: a real sandbox on loopback (in-process or as a child process), real Redis and S3
servers, and an Airflow home kept away from ~/airflow. The helpers they build on are in ``tests/helpers/``."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import settings

from airflow_provider_cashflow.sandbox import Dataset, Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import EXAMPLE_DAGS, AirflowHome, AirflowServer
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


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    """One ``airflow standalone`` for every e2e module that needs a scheduler (it starts in a minute or two).

    Its DAGs folder (``home.dags_folder``) holds a copy of the example DAGs, which write under ``home.lake``;
    a module adds DAG files of its own there and waits for them (``wait_for_dags``). The UI's login is
    ``admin`` with ``password``; the REST API is read with the admin's token. Test connection is enabled.
    Each module keeps to its own DAGs, connection ids and lake, so that what it asserts is its own doing; what
    it leaves behind (a connection, an unpaused DAG with nothing left to run) is no other module's concern.
    """
    root = tmp_path_factory.mktemp("standalone")
    shutil.copytree(EXAMPLE_DAGS, root / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    home = AirflowHome(
        root / "home",
        AIRFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
        LONGPORT_CASHFLOW_OUTPUT=f"file://{root / 'lake'}",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
    )
    home.migrate()
    server = AirflowServer(home, password=secrets.token_urlsafe(10))
    try:
        yield server.start()
    finally:
        server.stop()


_TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries the marker of its tier, the folder it lives in (``make test-fast`` runs ``-m unit``)."""
    for item in items:
        tier = next((part for part in item.path.parts if part in _TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


# `make test` runs two lanes side by side (pytest-xdist, -n 2), one worker each, every test in collection order
# within its lane. The Airflow lane holds the e2e modules (`airflow standalone`, `airflow dags test`), which wait
# on Airflow's processes more than they compute; the other lane holds everything else, with the Celery cluster's
# and the demo's tests, which would otherwise make the Airflow lane the longer by far. One worker per lane keeps
# each session fixture (the shared standalone) started once.
OTHER_LANE_E2E = {"test_distributed.py", "test_demo.py"}


def lane(nodeid: str) -> str:
    path = PurePosixPath(nodeid.split("::", 1)[0])
    return "airflow" if "e2e" in path.parts and path.name not in OTHER_LANE_E2E else "other"


if importlib.util.find_spec("xdist") is not None:  # `make compat` runs the suite without it

    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
        """The lanes as xdist's scopes: each is one unit of work, so one worker runs it whole, in order."""
        from xdist.scheduler import LoadScopeScheduling

        class LaneScheduling(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return lane(nodeid)

        return LaneScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _temp_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """TMPDIR of this test process and its children in the session's own directory: the file budget of an
    account (``airflow-provider-cashflow-*.calls``) is then not shared with the other lane, an earlier run or a
    demo on the same machine, and nothing is left in /tmp."""
    path = tmp_path_factory.mktemp("tmp")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(path), str(path)
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests that need no metadata DB still import Airflow; keep it away from ~/airflow.
    home = tmp_path_factory.getbasetemp() / "airflow_home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
