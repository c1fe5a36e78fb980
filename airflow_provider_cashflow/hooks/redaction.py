"""The UI's Test button and redacted secrets: never sign with a mask, and say plainly why the test cannot run.

Airflow's connection form shows saved secrets as ``***`` and its Test button posts them back as they are shown.
Airflow 3.1.7 and later put the saved connection's secrets back before the hook sees them (for its own host and
port); where masks still reach the hook (a connection that is not saved, Airflow 3.0 and 3.1.0-3.1.6), a call
signed with ``***`` would make the API blame the token, good connection or bad. Airflow 3.0 alone gets the
provider's own restore: :mod:`~airflow_provider_cashflow.hooks.airflow30_test_button`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cashflow.defaults import EXTRA_PREFIX

__all__ = ["REDACTED", "SECRET_EXTRAS", "cannot_test_message", "redacted_fields"]

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


def cannot_test_message(
    masked: list[str], conn_id: str | None = None, *, other_host: bool = False, unreadable: bool = False
) -> str:
    """Why nothing was sent, and how to test the saved connection instead.

    :param conn_id: the saved connection's id, where it is known (Airflow 3.0's restore finds it).
    :param other_host: the form names another host than the saved connection's.
    :param unreadable: the saved connection was found but its secrets could not be read.
    """
    names = ", ".join("app secret (password)" if name == "password" else name for name in masked)
    if other_host:
        why = "the host differs from the saved connection's, so its stored secrets are not sent there"
    elif unreadable:
        why = "the saved secrets could not be read here"
    else:
        why = (
            "no saved secrets were put in their place (Airflow 3.1.7 and later do that for a saved connection "
            "tested at its own host and port)"
        )
    target = conn_id or "<connection id>"
    return (
        f"Not tested: the form sent redacted values ('{REDACTED}') for {names}, and {why}. Nothing was sent to "
        f"LongPort. Test the saved connection with `airflow connections test {target}` (with "
        "AIRFLOW__CORE__TEST_CONNECTION=Enabled), or type the secrets into the form again and press Test."
    )
