"""CashflowHook against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal

import pytest

from airflow_provider_cashflow.client.auth import _TimestampClock
from airflow_provider_cashflow.client.retry import RetryBounds
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortTransportError, OAuthRefreshError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import FAULT_KINDS, Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected

FAST = RetryBounds(max_attempts=6, max_elapsed=60, base_delay=0.1, max_delay=1)


def pulled(hook: CashflowHook, start: datetime, end: datetime, **kwargs) -> list[dict]:
    return [r.to_dict() for r in hook.iter_cash_flows(start, end, **kwargs)]


@pytest.mark.parametrize("page_size", [1, 7, 10000])
def test_half_open_window_is_exact_at_any_page_size(sandbox: Sandbox, page_size: int) -> None:
    start, end = END - 3 * DAY, END
    want = expected(sandbox, start, end)
    got = pulled(CashflowHook(retry_bounds=FAST), start, end, page_size=page_size)
    assert got == want and len(got) > 50
    calls = sandbox.state.snapshot()["pages_served"]
    per_second = Counter(r["business_time"] for r in want)
    # the sandbox's end_time is inclusive: one call, where an answer first shows it, asks again without that second
    learning = 1
    if page_size > len(want):
        assert calls <= 1 + learning  # a window that fits in one page: one call (and the second at END)
    elif page_size == 1:  # each second: a one-record page, then read whole; and a last, empty answer
        assert 2 * len(per_second) + 1 <= calls <= 2 * len(per_second) + 1 + learning
    else:  # a page of new records per call, each short of its boundary second, plus the last call
        crowd = max(per_second.values())
        assert calls <= -(-len(want) // (page_size - crowd)) + 1 + learning


def test_adjacent_windows_add_up_with_boundary_and_twin_records(sandbox: Sandbox) -> None:
    hook = CashflowHook(retry_bounds=FAST)
    start, end = END - 4 * DAY, END
    whole = pulled(hook, start, end)
    days = [pulled(hook, start + i * DAY, start + (i + 1) * DAY) for i in reversed(range(4))]
    assert [r for day in days for r in day] == whole == expected(sandbox, start, end)
    # records exactly on a UTC midnight belong to the day that starts there, never to the one before
    midnight = [r for r in whole if r["business_time"].endswith("T00:00:00Z")]
    assert midnight, "the sandbox must serve boundary records for this test to mean anything"
    for i, day in enumerate(reversed(days)):
        day_start = (start + i * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert all(r["business_time"] >= day_start for r in day)
    twins = [a for a, b in itertools.pairwise(whole) if a == b]
    assert twins, "identical twin records must both be kept"


def test_filters_are_sent_and_applied(sandbox: Sandbox) -> None:
    hook = CashflowHook(retry_bounds=FAST)
    start, end = END - 5 * DAY, END
    funds = pulled(hook, start, end, business_type=3)
    assert funds and all(r["business_type"] == 3 for r in funds)
    apple = pulled(hook, start, end, symbol="AAPL.US")
    assert apple and all(r["symbol"] == "AAPL.US" for r in apple)
    assert [r for r in expected(sandbox, start, end) if r["business_type"] == 3] == funds


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_recovers_from_each_fault_with_nothing_lost_or_doubled(sandbox: Sandbox, fault: str) -> None:
    start, end = END - 2 * DAY, END
    sandbox.state.faults.stall_seconds = 3  # longer than the connection's 2 s timeout
    sandbox.state.faults.schedule("5xx")  # the first page fails too
    hook = CashflowHook(retry_bounds=FAST)
    pages = iter(hook.iter_cash_flows(start, end, page_size=7))
    first = [next(pages).to_dict() for _ in range(7)]
    sandbox.state.faults.schedule(fault, fault)  # twice in a row on a later page
    rest = [r.to_dict() for r in pages]
    assert first + rest == expected(sandbox, start, end)
    stats = sandbox.state.snapshot()
    assert stats["faults"] == ({"5xx": 3} if fault == "5xx" else {"5xx": 1, fault: 2})
    assert hook.client.stats.retries == 3


def test_429_honours_retry_after(sandbox: Sandbox) -> None:
    sandbox.state.faults.schedule("429")
    hook = CashflowHook(retry_bounds=RetryBounds(base_delay=0.01, max_delay=0.01))
    started = time.monotonic()
    rows = hook.get_cash_flow_page(END - DAY, END, page_size=5)
    assert len(rows) == 5
    assert time.monotonic() - started >= 1.0  # the sandbox said Retry-After: 1


def test_retries_are_bounded_and_the_last_error_is_reported(sandbox: Sandbox) -> None:
    sandbox.state.faults.fail_after_pages = 0
    hook = CashflowHook(retry_bounds=RetryBounds(max_attempts=3, base_delay=0.05, max_delay=0.1))
    with pytest.raises(LongPortAPIError) as info:
        list(hook.iter_cash_flows(END - DAY, END))
    assert info.value.code == 500000 and info.value.trace_id
    assert "gave up after 3 attempts" in "".join(info.value.__notes__)
    assert sandbox.state.snapshot()["calls"] == 3


def _conn(sandbox: Sandbox, **changes) -> dict:
    conn = sandbox.connection(**UNLIMITED, timeout=2)
    extra = conn.pop("extra")
    extra.update(changes.pop("extra", {}))
    return {**conn, **changes, "extra": extra}


@pytest.mark.parametrize(
    "changes,code,advice",
    [
        ({"password": "wrong-secret"}, 403201, "app secret"),
        ({"login": "someone-else"}, 403203, "app key"),
        ({"extra": {"access_token": "not-a-token"}}, 401004, "access_token"),
    ],
)
def test_permanent_errors_fail_fast_with_code_trace_and_advice(
    sandbox: Sandbox, monkeypatch, changes, code, advice
) -> None:
    set_connection(monkeypatch, "longport_bad", _conn(sandbox, **changes))
    hook = CashflowHook("longport_bad")
    with pytest.raises(LongPortAPIError) as info:
        list(hook.iter_cash_flows(END - DAY, END))
    error = info.value
    assert error.code == code and error.trace_id and advice in str(error)
    assert sandbox.state.snapshot()["calls"] == 1  # no retry of a permanent error
    assert "wrong-secret" not in str(error) and sandbox.state.credentials.app_secret not in str(error)


def test_expired_token_fails_fast_and_says_how_to_renew(sandbox: Sandbox) -> None:
    sandbox.control(expire_token=True)
    with pytest.raises(LongPortAPIError, match=r"401003.*developer console.*access_token"):
        list(CashflowHook().iter_cash_flows(END - DAY, END))
    assert sandbox.state.snapshot()["calls"] == 1


def test_oauth_bearer_mode_and_one_refresh_of_an_expired_token(sandbox: Sandbox, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_oauth", sandbox.connection(oauth=True, **UNLIMITED))
    start, end = END - 2 * DAY, END
    hook = CashflowHook("longport_oauth", retry_bounds=FAST)
    assert hook.settings.mode == "oauth"
    old_token = sandbox.state.credentials.access_token
    sandbox.state.expire_token_after = 2  # expires in the middle of the paging
    got = pulled(hook, start, end, page_size=10)
    assert got == expected(sandbox, start, end)
    assert hook.client.stats.token_refreshes == 1
    assert hook.client.paced.auth.access_token != old_token


def test_oauth_refresh_is_tried_once_then_fails_clearly(sandbox: Sandbox, monkeypatch) -> None:
    conn = sandbox.connection(oauth=True, **UNLIMITED)
    conn["extra"]["refresh_token"] = "revoked-refresh-token"
    set_connection(monkeypatch, "longport_oauth", conn)
    sandbox.control(expire_token=True)
    with pytest.raises(OAuthRefreshError, match=r"refresh at .* failed.*authorize again"):
        list(CashflowHook("longport_oauth").iter_cash_flows(END - DAY, END))


def test_a_replayed_signature_is_re_signed_and_retried(sandbox: Sandbox) -> None:
    # Two workers (two processes, so two clocks) ask for the same page in the same second: the second
    # signature is a replay.
    first, second = CashflowHook(retry_bounds=FAST), CashflowHook(retry_bounds=FAST)
    second.client.paced.auth._clock = _TimestampClock()  # what a second process would have
    while time.time() % 1 > 0.5:  # start early in a second so both calls share it
        time.sleep(0.05)
    a = first.get_cash_flow_page(END - DAY, END, page_size=3)
    b = second.get_cash_flow_page(END - DAY, END, page_size=3)
    assert a == b and len(a) == 3
    assert sandbox.state.snapshot()["rejected_replay"] == 1
    assert second.client.stats.retries == 1


def test_rate_limit_extras_reach_the_limiter(sandbox: Sandbox, monkeypatch) -> None:
    extra = {"rate_limit_calls": "12", "rate_limit_period": "6", "rate_limit_min_interval": "0"}
    set_connection(monkeypatch, "longport_paced", _conn(sandbox, extra=extra))
    limiter = CashflowHook("longport_paced").client.paced.limiter
    assert (limiter.max_calls, limiter.period, limiter.min_interval) == (12, 6.0, 0.0)
    set_connection(monkeypatch, "longport_plain", sandbox.connection(timeout=2))  # no rate-limit extra
    assert CashflowHook("longport_plain").client.paced.limiter.min_interval == 0.02


def test_region_picks_the_default_endpoint(sandbox: Sandbox, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_cn", _conn(sandbox, host="", extra={"region": "cn"}))
    assert CashflowHook("longport_cn").settings.base_url == "https://openapi.longport.cn"
    set_connection(monkeypatch, "longport_global", _conn(sandbox, host=""))
    assert CashflowHook("longport_global").settings.base_url == "https://openapi.longportapp.com"


def test_test_connection_reports_success_and_the_api_error(sandbox: Sandbox, monkeypatch) -> None:
    ok, message = CashflowHook().test_connection()
    assert ok and "signature mode" in message
    set_connection(monkeypatch, "longport_bad", _conn(sandbox, password="wrong-secret"))
    ok, message = CashflowHook("longport_bad").test_connection()
    assert not ok and "403201" in message and "app secret" in message and "wrong-secret" not in message


def test_raw_page_is_returned_as_sent(sandbox: Sandbox) -> None:
    rows = CashflowHook().get_cash_flow_page(END - 2 * DAY, END, page=2, page_size=4)
    indices = list(sandbox.dataset.indices(int((END - 2 * DAY).timestamp()), int(END.timestamp())))[4:8]
    assert rows == [sandbox.dataset.record(i) for i in indices]
    assert isinstance(rows[0]["direction"], int) and isinstance(rows[0]["business_time"], str)


def test_no_secret_or_signature_reaches_the_logs(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    sandbox.state.faults.schedule("5xx", "html", "429")
    caplog.set_level(logging.DEBUG)
    hook = CashflowHook(retry_bounds=FAST)
    list(hook.iter_cash_flows(END - 3 * DAY, END, page_size=20))
    text = caplog.text
    assert "records in" in text and "retrying" in text  # the log does say what happened
    creds = sandbox.state.credentials
    leaked = [s for s in (creds.app_secret, creds.access_token, *sandbox.state._seen_signatures) if s in text]
    assert not leaked
    assert creds.app_secret not in repr(hook.client.paced.auth) and creds.app_secret not in repr(hook.settings)


def test_progress_is_logged_once_per_answer_that_brought_records(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_cashflow")
    hook = CashflowHook()
    records = pulled(hook, END - 2 * DAY, END, page_size=25)
    lines = [r.getMessage() for r in caplog.records if " records in [" in r.getMessage()]
    assert len(records) // 25 <= len(lines) <= hook.client.stats.calls
    assert lines[-1].startswith(f"{len(records)} records in") and f"({hook.client.stats.calls} calls" in lines[-1]


def test_test_connection_names_a_bad_connection_field(sandbox: Sandbox, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_bad", _conn(sandbox, host="openapi.longportapp.com"))
    ok, message = CashflowHook("longport_bad").test_connection()
    assert not ok and "has no scheme" in message
    assert sandbox.state.snapshot()["calls"] == 0


def test_a_record_missing_a_field_names_the_field_and_the_trace_id(sandbox: Sandbox) -> None:
    from airflow_provider_cashflow.errors import RecordError

    sandbox.state.faults.schedule("type_drift", "missing_field")
    hook = CashflowHook()
    with pytest.raises(
        RecordError,
        match=r"lacks required field 'currency'.*call with start_time \d+, end_time \d+, page 1, size 20, trace id [0-9a-f]{32}",
    ):
        list(hook.iter_cash_flows(END - 3 * DAY, END, page_size=20))
    assert hook.client.stats.careful_pages == 1  # the fast decoder passed the page on; the careful one named the field


def test_documented_type_drift_changes_no_record_and_keeps_the_fast_path(sandbox: Sandbox) -> None:
    start, end = END - 3 * DAY, END
    sandbox.state.faults.schedule(*["type_drift"] * 3)
    hook = CashflowHook()
    drifted = list(hook.iter_cash_flows(start, end, page_size=25))
    assert sandbox.state.snapshot()["faults"].get("type_drift") == 3
    assert [r.to_dict() | {"balance": r.balance.normalize()} for r in drifted] == [
        r | {"balance": Decimal(r["balance"]).normalize()} for r in expected(sandbox, start, end)
    ]
    assert hook.client.stats.careful_pages == 0


def test_a_body_that_is_not_json_reports_the_trace_id(sandbox: Sandbox) -> None:
    sandbox.state.faults.schedule("html")
    hook = CashflowHook(retry_bounds=RetryBounds(max_attempts=1))
    with pytest.raises(
        LongPortTransportError, match=r"HTTP 502 with a body that is not JSON \(text/html.*trace id [0-9a-f]{32}"
    ):
        list(hook.iter_cash_flows(END - DAY, END))


def test_the_sandbox_keeps_when_each_page_arrived_and_was_answered(sandbox: Sandbox) -> None:
    list(CashflowHook().iter_cash_flows(END - 3 * DAY, END, page_size=20))
    deadline = time.monotonic() + 2
    # the server stamps a page answered once its last byte is written, which may be just after the client read it
    while len((stats := sandbox.state.snapshot())["recent_pages"]) < stats["pages_served"] < 200:
        assert time.monotonic() < deadline, stats
        time.sleep(0.01)
    pages = stats["recent_pages"]
    assert len(pages) == stats["pages_served"] > 2
    assert all(arrived <= answered for arrived, answered in pages)
    assert all(
        prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(pages)
    )  # one page at a time: the gaps are the client's


def test_each_next_call_leaves_before_the_page_before_it_is_decoded(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page-ahead: the time cursor sends its next call from a page's edges, so the server works on it while the
    page is decoded; every call sent ahead is the one asked next, and the records are those of a plain read."""
    from airflow_provider_cashflow.client import ap_cashflow, paced_session

    events: list[tuple[str, str]] = []
    decode, round_trip = ap_cashflow.decode_flows, paced_session.PacedSession._round_trip

    def decoding(answer, params, stats):  # type: ignore[no-untyped-def]
        events.append(("decode", params["end_time"]))
        return decode(answer, params, stats)

    def sending(self, method, path, params, body):  # type: ignore[no-untyped-def]
        events.append(("send", params["end_time"]))
        return round_trip(self, method, path, params, body)

    monkeypatch.setattr(ap_cashflow, "decode_flows", decoding)
    monkeypatch.setattr(paced_session.PacedSession, "_round_trip", sending)
    hook = CashflowHook()
    start, end = END - 3 * DAY, END
    assert pulled(hook, start, end, page_size=10) == expected(sandbox, start, end)
    sends = [call for kind, call in events if kind == "send"]
    calls = hook.client.stats.calls
    assert len(sends) == calls == sandbox.state.snapshot()["pages_served"] > 5
    assert hook.client.stats.calls_ahead == calls - 1 and hook.client.stats.calls_dropped == 0
    # each page but the last is decoded after the next call went out (the last page is short: nothing follows)
    for page, call in enumerate(sends[:-1]):
        assert events.index(("send", sends[page + 1])) < events.index(("decode", call)), events
