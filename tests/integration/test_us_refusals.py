"""A call the account's data centre does not serve is refused before anything is sent: the sandbox sees no call."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.compat import AirflowFailException
from airflow_provider_cashflow.errors import DataCentreError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import DEMO_US, Sandbox
from tests.helpers.connections import longport_connection, set_connection
from tests.helpers.data import DAY, END, UNLIMITED
from tests.helpers.operator import run_operator

US_TOKEN = "us_sandbox-access-token"


def calls(sandbox: Sandbox) -> int:
    stats = sandbox.state.snapshot()
    return stats["calls"] + stats["rejected_auth"] + stats["rejected_region"]


def test_a_us_account_on_the_ap_endpoint_fails_at_once(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "us_acct", sandbox.connection(us=True, **UNLIMITED))
    hook = CashflowHook("us_acct")
    with pytest.raises(DataCentreError) as raised:
        list(hook.iter_cash_flows(END - DAY, END))
    with pytest.raises(DataCentreError):
        hook.get_cash_flow_page(END - DAY, END)
    assert calls(sandbox) == 0
    text = str(raised.value)
    assert "connection 'us_acct' is a US-region account (its app key starts with 'us_')" in text
    assert "POST /v1/us/assets/transaction-history" in text and "dc_region='ap'" in text
    assert DEMO_US.access_token not in text and DEMO_US.app_secret not in text


def test_a_token_alone_makes_an_account_us(dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(dataset, rate_limit=False, access_token=US_TOKEN) as sandbox:
        set_connection(monkeypatch, "us_token", sandbox.connection(**UNLIMITED))
        with pytest.raises(DataCentreError, match=r"its access token starts with 'us_'"):
            list(CashflowHook("us_token").iter_cash_flows(END - DAY, END))
        assert calls(sandbox) == 0


def test_the_operator_refuses_a_us_account_on_a_cn_host_before_any_call(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "us_cn", {**sandbox.connection(us=True), "host": "https://openapi.longport.cn"})
    with pytest.raises(AirflowFailException, match=r"its app key starts with 'us_'.*never served through the mainland"):
        run_operator(END - DAY, END, longport_conn_id="us_cn")
    assert calls(sandbox) == 0


def test_an_ap_account_on_the_us_endpoint_fails_at_once(sandbox: Sandbox) -> None:
    hook = CashflowHook()
    with pytest.raises(DataCentreError, match=r"AP-region account .* dc_region='us'"):
        list(hook.iter_us_transactions(END - DAY, END))
    assert calls(sandbox) == 0


def test_a_us_account_pointed_at_a_cn_host_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "us_cn",
        longport_connection(login="k", password="s", access_token="t", dc_region="us", region="cn"),
    )
    with pytest.raises(DataCentreError, match=r"the connection extra dc_region='us' says so.*mainland-China host"):
        _ = CashflowHook("us_cn").settings


def test_dc_region_set_against_the_credentials_prefix_is_refused_before_any_call(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "us_forced_ap", sandbox.connection(us=True, dc_region="ap", **UNLIMITED))
    with pytest.raises(AirflowFailException, match=r"dc_region='ap'.*contradicts.*starts with 'us_'"):
        run_operator(END - DAY, END, longport_conn_id="us_forced_ap")
    with pytest.raises(DataCentreError, match=r"dc_region='ap'"):
        list(CashflowHook("us_forced_ap").iter_cash_flows(END - DAY, END))
    assert calls(sandbox) == 0
