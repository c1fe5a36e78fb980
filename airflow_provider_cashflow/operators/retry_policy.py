"""A ready task retry policy for LongPort's error classes (Airflow >= 3.3, AIP-105 task retry policies).

``CashflowOperator`` uses it by default on Airflow >= 3.3; give it to your own tasks that call the hook::

    from airflow_provider_cashflow.operators.retry_policy import longport_retry_policy

    @task(retries=5, retry_policy=longport_retry_policy())
    def my_extract(): ...

What it decides, first match wins:

- configuration and data errors (``LongPortConfigError``, ``RecordError``, ``OutOfOrderError``,
  ``OutputFormatError``): fail at once;
- an API error a retry cannot cure (``retryable`` is false: a rejected signature, app key or token, a forbidden IP,
  rejected parameters): fail at once, with the API's own message as the reason;
- the API's rate limit (``LongPortError.is_rate_limit``: codes 429001, 429002, or HTTP 429): retry after
  ``rate_limit_delay``, doubled on each further try, at most ``max_delay``;
- any other retryable LongPort error (server faults, timeouts, resets, broken bodies): retry after ``server_delay``,
  doubled likewise;
- anything else: Airflow's usual behaviour (the task's ``retries`` and ``retry_delay``).

A retry never goes past the task's ``retries``. On Airflow < 3.3 there are no retry policies: the operator keeps
failing at once on errors a retry cannot cure (``AirflowFailException``) and retries the rest by ``retries``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_provider_cashflow.compat import HAS_RETRY_POLICIES
from airflow_provider_cashflow.errors import (
    LongPortConfigError,
    LongPortError,
    OutOfOrderError,
    OutputFormatError,
    RecordError,
)

__all__ = ["error_class", "longport_retry_policy"]

NEVER_RETRY = (LongPortConfigError, RecordError, OutOfOrderError, OutputFormatError)


def error_class(error: BaseException) -> str:
    """``"config"``, ``"fatal"``, ``"rate_limit"``, ``"transient"`` or ``"other"`` (not LongPort's)."""
    if isinstance(error, NEVER_RETRY):
        return "config"
    if not isinstance(error, LongPortError):
        return "other"
    if not getattr(error, "retryable", False):
        return "fatal"
    if error.is_rate_limit:
        return "rate_limit"
    return "transient"


def longport_retry_policy(
    *,
    rate_limit_delay: timedelta = timedelta(minutes=2),
    server_delay: timedelta = timedelta(minutes=1),
    max_delay: timedelta = timedelta(minutes=30),
) -> Any:
    """The policy described in this module, as a ``LongPortRetryPolicy``.

    :param rate_limit_delay: wait before the first retry after the API's rate limit (the client has already
        retried within its own budget by then, so the account is busy: give it room).
    :param server_delay: wait before the first retry after a server fault or a network error.
    :param max_delay: cap of any one wait.
    :raises ImportError: on Airflow < 3.3, saying so.
    """
    if not HAS_RETRY_POLICIES:
        from airflow import __version__

        raise ImportError(
            f"task retry policies need Airflow >= 3.3 (AIP-105); this is Airflow {__version__}. Leave "
            "retry_policy unset there: CashflowOperator already fails at once on errors a retry cannot cure"
        )
    return LongPortRetryPolicy(rate_limit_delay=rate_limit_delay, server_delay=server_delay, max_delay=max_delay)


def default_retry_policy(kwargs: dict[str, Any]) -> None:
    """Sets an operator's ``retry_policy`` to :func:`longport_retry_policy` where Airflow has retry policies and
    the DAG gave none (``default_args`` included: they are merged into the operator's arguments first)."""
    if HAS_RETRY_POLICIES and kwargs.get("retry_policy") is None:
        kwargs["retry_policy"] = longport_retry_policy()


if HAS_RETRY_POLICIES:
    from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryDecision, RetryRule

    class LongPortRetryPolicy(ExceptionRetryPolicy):
        """LongPort's error classes as retry decisions; anything else as Airflow decides by default."""

        def __init__(self, *, rate_limit_delay: timedelta, server_delay: timedelta, max_delay: timedelta) -> None:
            never = RetryRule(
                exception=list(NEVER_RETRY),
                action=RetryAction.FAIL,
                reason="bad configuration or data: a retry cannot fix it",
            )
            super().__init__(rules=[never])
            self.delays = {"rate_limit": rate_limit_delay, "transient": server_delay}
            self.max_delay = max_delay

        def evaluate(
            self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
        ) -> RetryDecision:
            kind = error_class(exception)
            if kind == "fatal":
                return RetryDecision.fail(reason=f"a retry cannot cure this: {exception}"[:500])
            if kind in self.delays:
                delay = min(self.max_delay, self.delays[kind] * 2 ** max(try_number - 1, 0))
                what = "the API's rate limit" if kind == "rate_limit" else "a transient fault"
                return RetryDecision.retry(delay=delay, reason=f"{what}; next try in {delay}: {exception}"[:500])
            return super().evaluate(exception, try_number, max_tries, context)
