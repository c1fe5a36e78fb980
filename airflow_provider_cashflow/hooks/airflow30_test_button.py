"""Airflow 3.0's Test button: the saved connection's own secrets in place of the form's ``***`` masks.

Imported on Airflow 3.0 only. Its test route (``POST /api/v2/connections/test``) builds a throwaway connection under
a random id from the form's values as shown, masks included, and nothing swaps the saved secrets back in (3.1.7
and later do it themselves, apache/airflow#59643). Its last release is 3.0.6, so no upgrade within 3.0 fixes it.
The saved connection's id is known only to the route, as the local ``test_body`` of the frame that calls the
hook's ``test_connection`` in the same thread: this module reads it there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from airflow_provider_cashflow.defaults import EXTRA_PREFIX
from airflow_provider_cashflow.hooks.redaction import REDACTED, cannot_test_message

__all__ = ["connection_id_under_test", "restore_secrets"]


def connection_id_under_test() -> str | None:
    """The id of the saved connection whose Test button was pressed, read from Airflow 3.0's test route."""
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


def restore_secrets(conn: Any, masked: list[str], get_connection: Callable[[str], Any]) -> tuple[Any, str | None]:
    """``(conn with the stored secrets in place of the masks, None)``, or ``(conn, why not)``.

    Stored secrets are only used for the stored connection's own endpoint (the same base URL and port; 0 counts as
    unset), so a Test aimed at another host can never carry them there.

    :param masked: the fields that hold the mask (:func:`~airflow_provider_cashflow.hooks.redaction.redacted_fields`).
    """
    conn_id = connection_id_under_test()
    if conn_id is None:
        return conn, cannot_test_message(masked)
    try:
        stored = get_connection(conn_id)
    except Exception:  # not saved yet, or the secrets backend cannot be read from here
        return conn, cannot_test_message(masked, conn_id, unreadable=True)
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
