"""The OAuth token endpoint failing for a moment, or refusing: the sandbox's token endpoint, faulted on demand."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.client.retry import RetryBounds
from airflow_provider_cashflow.errors import OAuthRefreshError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected

FAST = RetryBounds(max_attempts=4, max_elapsed=30, base_delay=0.1, max_delay=0.5)


def _oauth_hook(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, **connection: object) -> CashflowHook:
    conn = sandbox.connection(oauth=True, **UNLIMITED)
    conn["extra"].update(connection)
    set_connection(monkeypatch, "longport_oauth", conn)
    return CashflowHook("longport_oauth", retry_bounds=FAST)


def test_a_token_endpoint_that_fails_twice_then_works_is_retried(sandbox: Sandbox, monkeypatch, caplog) -> None:
    hook = _oauth_hook(sandbox, monkeypatch)
    sandbox.control(expire_token=True, token_faults=[503, "reset"])  # a JSON 503, then a reset connection
    got = [r.to_dict() for r in hook.iter_cash_flows(END - DAY, END)]
    assert got == expected(sandbox, END - DAY, END)
    assert sandbox.state.snapshot()["token_requests"] == 3 and hook.client.stats.token_refreshes == 1
    warnings = [r.getMessage() for r in caplog.records if "OAuth token refresh failed (attempt" in r.getMessage()]
    assert len(warnings) == 2 and "HTTP 503, temporarily_unavailable" in warnings[0], warnings
    assert "no answer" in warnings[1]


def test_a_token_endpoint_that_stays_down_fails_retryable_with_no_longport_code(sandbox: Sandbox, monkeypatch) -> None:
    hook = _oauth_hook(sandbox, monkeypatch)
    sandbox.control(expire_token=True, token_faults=[503] * 10)
    with pytest.raises(OAuthRefreshError) as caught:
        list(hook.iter_cash_flows(END - DAY, END))
    error = caught.value
    assert error.retryable and error.code is None and error.http_status == 503  # Airflow's retries come next
    assert error.oauth_error == "temporarily_unavailable" and "authorize again" not in str(error)
    assert "passing fault" in str(error) and "gave up after 4 attempts" in error.__notes__[0]
    assert sandbox.state.snapshot()["token_requests"] == 4
    assert sandbox.state.credentials.refresh_token not in str(error)


def test_a_rejected_grant_is_final_and_says_to_authorize_again(sandbox: Sandbox, monkeypatch) -> None:
    hook = _oauth_hook(sandbox, monkeypatch, refresh_token="revoked-refresh-token")
    sandbox.control(expire_token=True)
    with pytest.raises(OAuthRefreshError, match=r"HTTP 400, invalid_grant.*authorize again in a browser") as caught:
        list(hook.iter_cash_flows(END - DAY, END))
    assert not caught.value.retryable and caught.value.code is None
    assert sandbox.state.snapshot()["token_requests"] == 1  # not retried: the same grant is refused again
    assert "revoked-refresh-token" not in str(caught.value)
