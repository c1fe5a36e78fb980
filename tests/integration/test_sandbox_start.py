"""What the sandbox prints on start is enough to use it: the connection lines work as printed, the credentials and
the data range are the ones it serves."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime

import pytest
import requests

from airflow_provider_cashflow.client.auth import SignatureAuth
from airflow_provider_cashflow.defaults import US_HISTORY_PATH
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import DEMO, DEMO_US, Dataset
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.data import DAY, END, SPEC, SPEC_ARGS, expected


def _env_line(line: str) -> tuple[str, dict]:
    """``export NAME='JSON'`` as a shell reads it."""
    words = shlex.split(line)
    assert words[0] == "export" and len(words) == 2
    name, _, value = words[1].partition("=")
    return name, json.loads(value)


def test_the_printed_connection_line_works_as_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxProcess(*SPEC_ARGS) as sandbox:
        lines = sandbox.banner.splitlines()
        name, conn = _env_line(sandbox.connection_line)
        assert name == "AIRFLOW_CONN_LONGPORT_DEFAULT" and conn["host"] == sandbox.base_url
        monkeypatch.setenv(name, json.dumps(conn))
        hook = CashflowHook()  # longport_default, nothing else set: the line alone is the connection
        try:
            got = [r.to_dict() for r in hook.iter_cash_flows(END - DAY, END)]
        finally:
            hook.close()
        assert got == expected(Dataset(SPEC), END - DAY, END) and got

        us_name, us_conn = _env_line(
            next(line for line in lines if line.startswith("export AIRFLOW_CONN_LONGPORT_US="))
        )
        assert us_name == "AIRFLOW_CONN_LONGPORT_US"
        session = requests.Session()
        session.auth = SignatureAuth(
            us_conn["login"], us_conn["password"], us_conn["extra"]["access_token"], dc_region="us"
        )
        start, end = int((END - DAY).timestamp()), int(END.timestamp())
        answer = session.post(
            sandbox.base_url + US_HISTORY_PATH, data=json.dumps({"start": start, "end": end - 1, "size": 500}).encode()
        ).json()
        assert answer["data"]["items"] == sandbox.us_records(start, end) and answer["data"]["items"]

    text = "\n".join(lines)
    for secret in (
        DEMO.app_key,
        DEMO.app_secret,
        DEMO.access_token,
        DEMO_US.app_key,
        DEMO_US.app_secret,
        DEMO_US.access_token,
    ):
        assert f"{secret!r}" in text  # the demo credentials, each named
    start_iso = datetime.fromtimestamp(Dataset(SPEC).start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"# data: [{start_iso}, 2026-11-20T00:00:00Z) half-open, 300 AP records and 300 US entries" in text


def test_the_banner_says_whether_drift_is_on(dataset: Dataset) -> None:
    from airflow_provider_cashflow.sandbox import Sandbox
    from airflow_provider_cashflow.sandbox.drift import DriftSpec

    drift = DriftSpec(postings=2, cancellations=3, every=2, max_pages=9)
    with Sandbox(dataset, rate_limit=False) as still, Sandbox(dataset, rate_limit=False, drift=drift) as drifting:
        assert "# drift: off (the history holds still between calls" in still.banner()
        line = "# drift: ON, 2 postings and 3 cancellations after every 2 pages, for 9 pages at most (seed 0)"
        assert line in drifting.banner()
        assert f"GET {drifting.base_url}/__sandbox/drift" in drifting.banner()
