"""The names that moved between Airflow 3 minors, imported from wherever the running Airflow has them.

Each name is tried at its newest home first (no deprecation warning there), then at the older one. What each
minor lacks (checked by installing 3.0.6, 3.1.8, 3.2.2 and 3.3.2):

- ``airflow.sdk.BaseHook``: 3.1+; 3.0 has ``airflow.hooks.base.BaseHook``.
- ``airflow.sdk.exceptions.AirflowFailException`` / ``AirflowNotFoundException``: 3.2+; before,
  ``airflow.exceptions`` (the same classes on 3.2+, where the old path warns).
- a DAG's timetable as the task sees it: the task SDK's (3.2+, public attributes) or the core one (``_`` names).
- ``airflow.sdk.ExceptionRetryPolicy`` and friends (AIP-105 task retry policies): 3.3+ only.
- the Test button's saved secrets: 3.1.7+ put them back in place of the form's ``***``; 3.0 does not, and has no
  later patch release (3.1.0-3.1.6 neither: there the fix is an upgrade).
- the secrets backends a hook's connection lookup tries: the task SDK's list (3.1+, and 3.0 inside a task); 3.0
  outside a task reads the core list.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

__all__ = [
    "AIRFLOW_VERSION",
    "HAS_RETRY_POLICIES",
    "HOOK_RESTORES_TEST_SECRETS",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "airflow_version",
    "secrets_backends",
    "timetable_expression",
    "timetable_timezone",
]

if TYPE_CHECKING:  # type checkers see the newest layout, the one the project is checked against
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
else:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0
        from airflow.hooks.base import BaseHook

    try:
        from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.exceptions import AirflowFailException, AirflowNotFoundException


def airflow_version() -> tuple[int, int]:
    """The running Airflow's (major, minor), e.g. ``(3, 0)``."""
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


AIRFLOW_VERSION = airflow_version()

#: Task retry policies (AIP-105) exist: ``retry_policy=`` on an operator is honoured.
HAS_RETRY_POLICIES = AIRFLOW_VERSION >= (3, 3)

#: The hook itself puts a saved connection's secrets in place of the Test button's masks (Airflow 3.0 only).
HOOK_RESTORES_TEST_SECRETS = AIRFLOW_VERSION < (3, 1)


def secrets_backends() -> list[Any]:
    """The secrets backends ``BaseHook.get_connection`` tries in this process, in its order."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    if AIRFLOW_VERSION < (3, 1) and not hasattr(task_runner, "SUPERVISOR_COMMS"):
        from airflow.configuration import ensure_secrets_loaded

        return list(ensure_secrets_loaded())
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

    return list(ensure_secrets_backend_loaded())


def timetable_timezone(timetable: Any) -> Any:
    """The time zone a DAG's timetable reads its schedule in, or ``None`` when it has none (delta, asset).

    Airflow >= 3.2 gives the task the SDK's timetable (public ``timezone``); 3.0 and 3.1 the core one
    (``_timezone``).
    """
    for name in ("timezone", "_timezone"):
        value = getattr(timetable, name, None)
        if value is not None:
            return value
    return None


def timetable_expression(timetable: Any) -> str | None:
    """The cron expression of a cron timetable (SDK ``expression``, core ``_expression``), else ``None``."""
    for name in ("expression", "_expression"):
        value = getattr(timetable, name, None)
        if isinstance(value, str):
            return value
    return None
