"""What no retry can cure fails the task at once, in any task that uses the hook, with or without a retry policy.

A configuration or data error (``retryable`` false: a naive datetime, a bad ``business_type``, a rejected
signature, a record the API sent broken) would fail the same way on every try, and each try costs a task start
and the retry delay. So the hook raises it as Airflow's no-retry failure too: the same error, of a class that is
both its own and ``AirflowFailException``, so ``except LongPortConfigError`` still catches it. Transport errors
and rate limits (``retryable`` true) stay ordinary exceptions, which Airflow retries.

A missing connection is such an error: Airflow's "isn't defined" becomes ours, with the ``longport`` connections
that this process can see and the closest one to the id asked for.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from airflow_provider_cashflow.compat import AirflowFailException
from airflow_provider_cashflow.errors import LongPortConfigError, LongPortError

__all__ = ["fail_fast", "fail_fast_records", "fails_fast", "longport_connection_ids", "missing_connection", "no_retry"]

P = ParamSpec("P")
R = TypeVar("R")
Y = TypeVar("Y")
_CONN_ENV_PREFIX = "AIRFLOW_CONN_"
_no_retry_classes: dict[type[LongPortError], type[LongPortError]] = {}


def no_retry(error: LongPortError) -> LongPortError:
    """``error``, as an instance of a class that is both its own and ``AirflowFailException``."""
    if isinstance(error, AirflowFailException):
        return error
    kind = type(error)
    if kind not in _no_retry_classes:
        # named as the original, so the task log shows the class a user catches
        _no_retry_classes[kind] = type(
            kind.__name__,
            (kind, AirflowFailException),
            {"__module__": kind.__module__, "__qualname__": kind.__qualname__},
        )
    clone = _no_retry_classes[kind].__new__(_no_retry_classes[kind])
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone


@contextmanager
def fail_fast() -> Iterator[None]:
    """Re-raise a LongPort error no retry can cure as :func:`no_retry` makes it; let every other error pass."""
    try:
        yield
    except LongPortError as error:
        if error.retryable or isinstance(error, AirflowFailException):
            raise
        raise no_retry(error).with_traceback(error.__traceback__) from error.__cause__


def fails_fast(method: Callable[P, R]) -> Callable[P, R]:
    """:func:`fail_fast` around a method's call."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with fail_fast():
            return method(*args, **kwargs)

    return wrapper


def fail_fast_records(records: Iterable[Y]) -> Generator[Y, None, None]:
    """``records``, with :func:`fail_fast` around every step (a record the API sent broken is found while paging)."""
    with fail_fast():
        yield from records


def missing_connection(conn_id: str) -> LongPortConfigError:
    """The error for a connection id that no secrets backend knows: which longport connections exist, and the
    closest of them."""
    known = longport_connection_ids()
    close = difflib.get_close_matches(conn_id, known, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else "."
    if known:
        seen = f" The longport connections this process can see: {', '.join(repr(name) for name in known)}."
    else:
        seen = " This process sees no connection of type longport."
    return LongPortConfigError(
        f"connection {conn_id!r} is not defined{guess}{seen} Set longport_conn_id to one of them, or create "
        f"{conn_id!r} (Admin > Connections, `airflow connections add {conn_id} --conn-type longport ...`, or the "
        f"environment variable {_CONN_ENV_PREFIX}{conn_id.upper()})"
    )


def longport_connection_ids() -> list[str]:
    """The ids of the ``longport`` connections in ``AIRFLOW_CONN_*`` variables and, where this process may read
    it (``airflow dags test``, the CLI; not a task on a worker), the metadata DB. Sorted, best effort: a source
    that cannot be read is skipped, since this only helps word an error."""
    found = set(_environment_ids())
    found.update(_metadata_db_ids())
    return sorted(found)


def _environment_ids() -> Iterator[str]:
    for name, value in os.environ.items():
        if not name.startswith(_CONN_ENV_PREFIX):
            continue
        text = value.strip()
        if text.startswith("{"):
            try:
                conn_type = str(json.loads(text).get("conn_type", ""))
            except (ValueError, AttributeError):
                continue
        else:
            conn_type = text.split("://", 1)[0] if "://" in text else ""
        if conn_type.replace("-", "_").lower() == "longport":
            yield name[len(_CONN_ENV_PREFIX) :].lower()


def _metadata_db_ids() -> list[str]:
    try:
        from airflow.models.connection import Connection
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(Connection.conn_id).filter(Connection.conn_type == "longport").all()
            return [str(row[0]) for row in rows]
    except Exception:  # a worker has no DB access in Airflow 3, and wording an error must not fail differently
        return []
