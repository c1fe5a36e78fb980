"""A hook reading its connection through Airflow's real lookup: ``python -m tests.helpers.connection_probe ID...``.

For each connection id, builds ``CashflowHook(ID).settings`` and prints ``CONNECTION-PROBE`` and a JSON list of
what came of it: ``{"id", "read"}`` when the connection was read, else the error's ``class``, ``retryable``,
``no_retry`` (Airflow's fail-at-once class) and ``message``. A test runs it with an ``AirflowHome``'s environment
and the ``AIRFLOW_CONN_...`` variables and ``AIRFLOW__SECRETS__BACKEND`` it wants, so Airflow resolves the
connection as in any process of that configuration.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from airflow.secrets import BaseSecretsBackend


class FailingSecretsBackend(BaseSecretsBackend):
    """A secrets backend whose store is out of reach: every read raises (``AIRFLOW__SECRETS__BACKEND``)."""

    ERROR = "vault.example:8200 refused the read: permission denied on secret/airflow/connections"

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        raise PermissionError(self.ERROR)

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        return None


def probe(conn_id: str) -> dict[str, Any]:
    from airflow_provider_cashflow.compat import AirflowFailException
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    try:
        CashflowHook(conn_id).settings  # noqa: B018 - reading it is the probe
    except Exception as error:
        return {
            "id": conn_id,
            "class": type(error).__name__,
            "retryable": getattr(error, "retryable", None),
            "no_retry": isinstance(error, AirflowFailException),
            "message": str(error),
        }
    return {"id": conn_id, "read": True}


if __name__ == "__main__":
    print("CONNECTION-PROBE " + json.dumps([probe(conn_id) for conn_id in sys.argv[1:]]))
