"""Paced paging through the rate-limited sandbox, and the official SDK as the reference client."""

from __future__ import annotations

import textwrap
import time

import pytest

from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.connections import connection, set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected
from tests.helpers.processes import run_script


@pytest.mark.slow
def test_61_calls_through_the_rate_limited_sandbox_with_no_call_rejected(dataset, monkeypatch) -> None:
    # the live limits: 30 calls / 30 s, 0.02 s apart; an app key of its own, so no other test shares its budget
    with Sandbox(dataset, rate_limit=True, app_key=f"paced-{time.time_ns()}") as sandbox:
        set_connection(monkeypatch, "longport_paced", sandbox.connection())
        indices = sandbox.dataset.indices(0, int(END.timestamp()) - 1)
        # at page size 1 the cursor makes two calls per second that holds records (a one-record page, then that
        # second read whole); with the window starting on the 31st such second, that is 62 calls ...
        seconds = sorted({sandbox.dataset.times[i] for i in indices}, reverse=True)[:31]
        start = END.fromtimestamp(seconds[-1], END.tzinfo)
        want = expected(sandbox, start, END)
        started = time.monotonic()
        got = [r.to_dict() for r in CashflowHook("longport_paced").iter_cash_flows(start, END, page_size=1)]
        elapsed = time.monotonic() - started
        stats = sandbox.state.snapshot()
    assert got == want
    # ... and one more where an answer first shows that the sandbox's end_time is inclusive: at least 61 calls
    assert stats["pages_served"] == 2 * 31 + 1
    assert stats["rejected_rate_limit"] == 0
    assert elapsed >= 60.0  # the budget was respected: 61+ calls cannot fit in fewer than 60 s


SDK_PAGER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timezone
    from longbridge.openapi import Config, TradeContext
    base, start, end, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cfg = Config.from_apikey("sandbox-app-key", "sandbox-app-secret", "sandbox-access-token",
                             http_url=base, enable_print_quote_packages=False)
    ctx = TradeContext(cfg)
    out, page = [], 1
    while True:  # the SDK fetches one page; paging is the caller's job
        rows = ctx.cash_flow(start_at=datetime.fromtimestamp(start, timezone.utc),
                             end_at=datetime.fromtimestamp(end, timezone.utc), page=page, size=size)
        out += [{"name": r.transaction_flow_name, "balance": str(r.balance), "currency": r.currency,
                 "time": int(r.business_time.replace(tzinfo=timezone.utc).timestamp()), "symbol": r.symbol or None,
                 "description": r.description} for r in rows]
        if len(rows) < size:
            break
        page += 1
    print(json.dumps({"rows": out, "pages": page}))
    """
)


def test_official_sdk_accepts_the_sandbox_and_agrees_with_the_hook(
    sandbox_process: SandboxProcess, monkeypatch
) -> None:
    start, end = END - 2 * DAY, END
    start_ts, end_ts = int(start.timestamp()), int(end.timestamp())
    sdk = run_script(SDK_PAGER, sandbox_process.base_url, start_ts, end_ts, 7)
    assert sdk["pages"] > 3
    # the SDK's window is the server's, both ends inclusive: cut it to [start, end) like the hook does
    sdk_rows = [r for r in sdk["rows"] if start_ts <= r["time"] < end_ts]

    set_connection(monkeypatch, "longport_proc", connection(sandbox_process, **UNLIMITED))
    ours = [
        {
            "name": r.transaction_flow_name,
            "balance": str(r.balance),
            "currency": r.currency,
            "time": r.epoch_seconds,
            "symbol": r.symbol,
            "description": r.description,
        }
        for r in CashflowHook("longport_proc").iter_cash_flows(start, end, page_size=7)
    ]
    assert ours == sdk_rows and len(ours) > 20
    assert sandbox_process.records(start_ts, end_ts) and len(sandbox_process.records(start_ts, end_ts)) == len(ours)
    assert sandbox_process.stats()["rejected_auth"] == 0
