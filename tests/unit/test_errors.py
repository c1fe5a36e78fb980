"""The error family: one base, a retryable flag, and the built-in bases callers already catch."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.errors import (
    LongPortAPIError,
    LongPortConfigError,
    LongPortError,
    LongPortTransportError,
    OutOfOrderError,
    OutputFormatError,
    RecordError,
)


@pytest.mark.parametrize(
    "error,retryable,builtin",
    [
        (LongPortConfigError("bad"), False, ValueError),
        (RecordError("bad record"), False, ValueError),
        (OutputFormatError("too precise"), False, ValueError),
        (OutOfOrderError("late record"), False, RuntimeError),
        (LongPortTransportError("reset"), True, Exception),
        (LongPortTransportError("cut-off body", http_status=200), True, Exception),
        (LongPortTransportError("gateway page", http_status=502), True, Exception),
        (LongPortTransportError("bare 429", http_status=429), True, Exception),
        (LongPortTransportError("wrong path", http_status=404), False, Exception),
        (LongPortTransportError("proxy refused", http_status=403), False, Exception),
        (LongPortTransportError("moved", http_status=301), False, Exception),
        (LongPortAPIError(429002, "limited"), True, Exception),
        (LongPortAPIError(500000, "internal"), True, Exception),
        (LongPortAPIError(403201, "signature invalid"), False, Exception),
        (LongPortAPIError(401003, "token expired"), False, Exception),
    ],
)
def test_every_error_is_a_longport_error_that_says_whether_a_retry_can_help(error, retryable, builtin) -> None:
    assert isinstance(error, LongPortError) and isinstance(error, builtin)
    assert error.retryable is retryable


def test_the_old_import_paths_name_the_same_classes() -> None:
    from airflow_provider_cashflow.domain.models import RecordError as FromModels
    from airflow_provider_cashflow.output.partitions import OutOfOrderError as FromPartitions

    assert FromModels is RecordError and FromPartitions is OutOfOrderError


def test_an_api_error_keeps_the_retry_after_the_server_sent() -> None:
    assert LongPortAPIError(429001, "ip limited", retry_after=1.5).retry_after == 1.5
    assert LongPortAPIError(500000, "internal").retry_after is None
