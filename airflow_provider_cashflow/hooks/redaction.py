"""The UI's Test button and redacted secrets: restore the stored ones, or say plainly why the test cannot run.

Airflow's connection form shows saved secrets as ``***`` and its Test button posts them back as they are shown
(with ``0`` for the hidden port field). Airflow then builds a throwaway connection under a random id from those
values and calls the hook's ``test_connection``; before apache/airflow#73298 nothing swaps the stored secrets
back in, so the hook would sign with ``***`` and the API would blame the token, good connection or bad.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from airflow_provider_cashflow.defaults import EXTRA_PREFIX

__all__ = ["REDACTED", "cannot_test_message", "connection_id_under_test", "redacted_fields", "restore_secrets"]

REDACTED = "***"
SECRET_EXTRAS = ("access_token", "refresh_token")


def redacted_fields(conn: Any) -> list[str]:
    """The connection's fields that hold the UI's mask instead of a value."""
    found = ["password"] if conn.password == REDACTED else []
    extra = conn.extra_dejson or {}
    for name in SECRET_EXTRAS:
        if REDACTED in (extra.get(name), extra.get(f"{EXTRA_PREFIX}{name}")):
            found.append(name)
    return found


def connection_id_under_test() -> str | None:
    """The id of the saved connection whose Test button was pressed, read from Airflow's own test route.

    The route (``POST /api/v2/connections/test``, every Airflow 3) calls ``test_connection`` in the same thread with
    the request body in its local ``test_body``; the connection it hands the hook carries a random id instead.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            conn_id = getattr(frame.f_locals.get("test_body"), "connection_id", None)
            if isinstance(conn_id, str) and conn_id:
                return conn_id
            frame = frame.f_back
        return None
    finally:
        del frame  # a frame kept alive here would keep every local of the request alive


def _same_endpoint(sent: Any, stored: Any) -> bool:
    return (sent.host or "").strip().rstrip("/") == (stored.host or "").strip().rstrip("/") and (sent.port or None) == (
        stored.port or None
    )


def restore_secrets(conn: Any, get_connection: Callable[[str], Any]) -> tuple[Any, str | None]:
    """``(conn with the stored secrets in place of the masks, None)``, or ``(conn, why not)``.

    Stored secrets are only used for the stored connection's own endpoint (the same base URL and port; 0 counts as
    unset), so a Test aimed at another host can never carry them there.
    """
    masked = redacted_fields(conn)
    if not masked:
        return conn, None
    conn_id = connection_id_under_test()
    if conn_id is None:
        return conn, cannot_test_message(masked, None)
    try:
        stored = get_connection(conn_id)
    except Exception:  # not saved yet, or the secrets backend cannot be read from here
        return conn, cannot_test_message(masked, conn_id)
    if not _same_endpoint(conn, stored):
        return conn, cannot_test_message(masked, conn_id, other_host=True)
    extra = dict(conn.extra_dejson or {})
    stored_extra = stored.extra_dejson or {}
    for key, value in extra.items():
        if value == REDACTED:
            bare = key.removeprefix(EXTRA_PREFIX)
            extra[key] = stored_extra.get(key, stored_extra.get(bare, stored_extra.get(f"{EXTRA_PREFIX}{bare}")))
    restored = SimpleNamespace(  # what LongPortSettings.from_connection reads; no ORM object is touched
        conn_id=conn.conn_id,
        host=conn.host,
        port=conn.port,
        login=conn.login,
        extra_dejson=extra,
        password=stored.password if "password" in masked else conn.password,
    )
    return restored, None


def cannot_test_message(masked: list[str], conn_id: str | None, *, other_host: bool = False) -> str:
    names = ", ".join("app secret (password)" if name == "password" else name for name in masked)
    where = (
        "the host differs from the saved connection's, so its stored secrets are not sent there"
        if other_host
        else "the saved secrets could not be read here"
    )
    target = conn_id or "<connection id>"
    return (
        f"Not tested: the form sent redacted values ('{REDACTED}') for {names}, and {where}. Nothing was sent to "
        f"LongPort. Test the saved connection with `airflow connections test {target}`, or type the secrets into "
        "the form again and press Test."
    )
