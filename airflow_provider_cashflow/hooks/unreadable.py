"""A connection Airflow calls "not defined" that is defined but could not be read, told apart from a missing one.

Airflow's lookup tries each secrets backend in turn and takes any error of one for "not there here": a secrets
backend that raised (a vault out of reach, a permission refused) and an ``AIRFLOW_CONN_...`` variable that does not
parse both end in "isn't defined". When that happens, the hook asks the same backends again, itself, and reports
the first error, so the user fixes the backend or the variable, not the connection id. The error's text never
carries the variable's value: any run of six characters or more of it found in the text is masked.
"""

from __future__ import annotations

import os

from airflow_provider_cashflow.compat import secrets_backends
from airflow_provider_cashflow.errors import ConnectionReadError, LongPortConfigError, LongPortError

__all__ = ["unreadable_connection"]

_CONN_ENV_PREFIX = "AIRFLOW_CONN_"
_MASK = "***"


def unreadable_connection(conn_id: str) -> LongPortError | None:
    """The error that kept Airflow from reading ``conn_id``, or ``None`` when every backend simply lacks it.

    A malformed ``AIRFLOW_CONN_...`` variable is a :class:`~airflow_provider_cashflow.errors.LongPortConfigError`
    (fix the variable; no retry reads it); a secrets backend that raised is a
    :class:`~airflow_provider_cashflow.errors.ConnectionReadError`, which a retry may cure.
    """
    variable = f"{_CONN_ENV_PREFIX}{conn_id.upper()}"
    value = os.environ.get(variable, "")
    for backend in secrets_backends():
        try:
            backend.get_connection(conn_id=conn_id)
        except Exception as error:
            text = f"{type(error).__name__}: {_masked(str(error), value)}"
            if type(backend).__name__ == "EnvironmentVariablesBackend" and value:
                return LongPortConfigError(
                    f"connection {conn_id!r} is set in {variable}, but Airflow cannot parse it ({text}). Write "
                    "the variable as a JSON object (docs: The connection > As JSON) or as a URI whose parts are "
                    "URL-encoded"
                )
            return ConnectionReadError(
                f"connection {conn_id!r} could not be read: the secrets backend {type(backend).__name__} failed "
                f"({text}). It may well exist: check the backend's configuration and its access to the secret store"
            )
    return None


def _masked(text: str, value: str, shortest: int = 6) -> str:
    """``text`` with every run of at least ``shortest`` characters that also occurs in ``value`` masked (shorter
    runs are the parser's own words far more often than a piece of a secret)."""
    if not value:
        return text
    out, i = [], 0
    while i < len(text):
        end = i + shortest
        if end <= len(text) and text[i:end] in value:
            while end < len(text) and text[i : end + 1] in value:
                end += 1
            out.append(_MASK)
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
