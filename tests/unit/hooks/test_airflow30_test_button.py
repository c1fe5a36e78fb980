"""Airflow 3.0's Test button: the saved secrets in place of the masks, found through the route's ``test_body``.

The module is imported only on Airflow 3.0, but it needs no Airflow: these tests run it on any version by calling
it from a frame that holds a ``test_body`` as Airflow 3.0's route does.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_cashflow.hooks.airflow30_test_button import connection_id_under_test, restore_secrets
from airflow_provider_cashflow.hooks.redaction import redacted_fields

SAVED = SimpleNamespace(
    conn_id="lp_saved",
    host="https://openapi.longportapp.com/",
    port=None,
    login="app-key",
    password="the-secret",
    extra_dejson={"access_token": "the-token", "region": "global"},
)


def _form(host: str = "https://openapi.longportapp.com", **extra: Any) -> SimpleNamespace:
    """What the route hands the hook: the form's values under a random id, secrets as shown."""
    return SimpleNamespace(
        conn_id="xq7rnd",
        host=host,
        port=0,
        login="app-key",
        password="***",
        extra_dejson={"access_token": "***", "region": "global", **extra},
    )


def _lookup(conn_id: str) -> Any:
    if conn_id == SAVED.conn_id:
        return SAVED
    raise LookupError(conn_id)


def _pressed(connection_id: str, conn: Any) -> tuple[Any, str | None]:
    test_body = SimpleNamespace(connection_id=connection_id)  # the route's local, read through the stack
    assert test_body.connection_id == connection_id
    return restore_secrets(conn, redacted_fields(conn), _lookup)


def test_the_saved_secrets_replace_the_masks_for_the_saved_endpoint() -> None:
    restored, problem = _pressed("lp_saved", _form())
    assert problem is None
    assert restored.password == "the-secret" and restored.extra_dejson["access_token"] == "the-token"
    assert restored.conn_id == "xq7rnd" and restored.host == "https://openapi.longportapp.com"


def test_the_legacy_form_keys_are_restored_too() -> None:
    form = _form()
    form.extra_dejson = {"extra__longport__access_token": "***"}
    restored, problem = _pressed("lp_saved", form)
    assert problem is None and restored.extra_dejson == {"extra__longport__access_token": "the-token"}


def test_stored_secrets_never_go_to_another_host() -> None:
    conn = _form(host="https://elsewhere.example")
    restored, problem = _pressed("lp_saved", conn)
    assert restored is conn and restored.password == "***"
    assert problem and "host differs" in problem and "airflow connections test lp_saved" in problem


def test_an_unsaved_connection_says_how_to_test() -> None:
    conn = _form()
    restored, problem = _pressed("lp_nowhere", conn)
    assert restored is conn
    assert problem and "could not be read" in problem and "airflow connections test lp_nowhere" in problem


@pytest.mark.parametrize("where", ["nowhere", "empty id"])
def test_without_the_route_nothing_is_restored(where: str) -> None:
    conn = _form()
    if where == "empty id":
        test_body = SimpleNamespace(connection_id="")
        assert test_body.connection_id == ""
    assert connection_id_under_test() is None
    restored, problem = restore_secrets(conn, redacted_fields(conn), _lookup)
    assert restored is conn
    assert problem and "redacted" in problem and "airflow connections test <connection id>" in problem
