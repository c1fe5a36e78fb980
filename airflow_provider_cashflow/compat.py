"""The names that moved between Airflow 3 minors, imported from wherever the running Airflow has them.

Each name is tried at its newest home first (no deprecation warning there), then at the older one. What each
minor lacks (checked by installing 3.0.6, 3.1.8, 3.2.2 and 3.3.2):

- ``airflow.sdk.BaseHook``: 3.1+; 3.0 has ``airflow.hooks.base.BaseHook``.
- ``airflow.sdk.exceptions.AirflowFailException``: 3.2+; before, ``airflow.exceptions.AirflowFailException``
  (the same class on 3.2+, where the old path warns).
- ``airflow.sdk.CronDataIntervalTimetable`` / ``CronTriggerTimetable``: 3.2+; before, the core classes in
  ``airflow.timetables.interval`` / ``airflow.timetables.trigger``.
- ``airflow.sdk.ExceptionRetryPolicy`` and friends (AIP-105 task retry policies): 3.3+ only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AIRFLOW_VERSION",
    "HAS_RETRY_POLICIES",
    "AirflowFailException",
    "BaseHook",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "airflow_version",
    "timetable_expression",
    "timetable_timezone",
]

if TYPE_CHECKING:  # type checkers see the newest layout, the one the project is checked against
    from airflow.sdk import BaseHook, CronDataIntervalTimetable, CronTriggerTimetable
    from airflow.sdk.exceptions import AirflowFailException
else:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0
        from airflow.hooks.base import BaseHook

    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.exceptions import AirflowFailException

    try:
        from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable
        from airflow.timetables.trigger import CronTriggerTimetable


def airflow_version() -> tuple[int, int]:
    """The running Airflow's (major, minor), e.g. ``(3, 0)``."""
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


AIRFLOW_VERSION = airflow_version()

#: Task retry policies (AIP-105) exist: ``retry_policy=`` on an operator is honoured.
HAS_RETRY_POLICIES = AIRFLOW_VERSION >= (3, 3)


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
