"""Airflow connections for the tests: a sandbox's ``longport`` connection, set through ``AIRFLOW_CONN_*``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_cashflow.sandbox import DEMO, Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess


def longport_connection(
    base_url: str | None = None,
    *,
    login: str = DEMO.app_key,
    password: str = DEMO.app_secret,
    access_token: str = DEMO.access_token,
    **extra: Any,
) -> dict[str, Any]:
    """A ``longport`` connection (JSON form) to ``base_url`` (none: the region's default endpoint), the sandbox's
    demo credentials by default."""
    host = {} if base_url is None else {"host": base_url}
    return {
        "conn_type": "longport",
        **host,
        "login": login,
        "password": password,
        "extra": {"access_token": access_token, **extra},
    }


def connection(sandbox: Sandbox | SandboxProcess, **extra: Any) -> dict[str, Any]:
    """The connection to an in-process sandbox (its own credentials) or to a sandbox process (the demo's)."""
    if isinstance(sandbox, Sandbox):
        return sandbox.connection(**extra)
    return longport_connection(sandbox.base_url, **extra)


def connection_json(sandbox: Sandbox | SandboxProcess | str, **extra: Any) -> str:
    """:func:`connection` (or :func:`longport_connection` of a base URL) as ``--conn-json`` / ``AIRFLOW_CONN_*``
    take it."""
    conn = longport_connection(sandbox, **extra) if isinstance(sandbox, str) else connection(sandbox, **extra)
    return json.dumps(conn)


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    """Register ``conn`` as ``conn_id`` for this test (undone afterwards)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def api_body(conn_id: str, conn: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``conn`` as the REST API's connection body (``POST /api/v2/connections``, ``.../test``): the id, the
    extra as a JSON string, and ``fields`` (``port=0``, ``password="***"``) over it."""
    return {"connection_id": conn_id, **conn, "extra": json.dumps(conn["extra"]), **fields}
