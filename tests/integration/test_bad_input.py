"""Every bad input fails fast, before any API call, with an error that says what was wrong and what to do.

One table across the connection (read by the hook), the hook's arguments and the operator's parameters. Each row
names the exact error class: the hook raises ``LongPortConfigError`` (as Airflow's no-retry failure too); the operator raises it when it is built (as
the DAG file is parsed) for a literal parameter, and ``AirflowFailException``, which Airflow never retries (a retry
cannot fix an input), when it runs, for what needs the run's context or a rendered template.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import DEMO, Dataset, Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, SPEC, UNLIMITED
from tests.helpers.messages import repeated_phrase
from tests.helpers.operator import run_operator

PLAIN_HTTP = r"plain http:// to .* clear text; use https://"
ROW_GROUP = r"parquet_row_group_size must be a whole number of records of 1 or more"
PAGE_SIZE = r"page_size must be an integer from 1 to 10000"
PAGE_SIZE_ANY = r"page_size must be a whole number of 1 or more \(at most 10000 for an AP account\)"
BUSINESS_TYPE = r"business_type must be 1 \(cash\), 2 \(stock\), 3 \(fund\) or None"


@dataclass(frozen=True)
class Case:
    """One bad input.

    :param where: ``connection`` (changes to a working sandbox connection, read by the hook), ``hook``
        (arguments of ``iter_cash_flows``, or of ``get_cash_flow_page`` with ``page``) or ``operator``.
    :param given: the connection changes, or the call's arguments.
    :param error: the exact class raised.
    :param message: a regex over the error text: what was wrong and what to do.
    """

    name: str
    where: str
    given: dict[str, Any]
    error: type[Exception]
    message: str
    interval: tuple[datetime | None, datetime | None] = (END - DAY, END)
    given_extra: dict[str, Any] = field(default_factory=dict)


def connection(name: str, message: str, extra: dict[str, Any] | None = None, **changes: Any) -> Case:
    return Case(name, "connection", changes, LongPortConfigError, message, given_extra=extra or {})


def hook(name: str, message: str, **kwargs: Any) -> Case:
    return Case(name, "hook", kwargs, LongPortConfigError, message)


def operator(
    name: str, message: str, interval: tuple[datetime | None, datetime | None] = (END - DAY, END), **kwargs: Any
) -> Case:
    """A mistake only the run can see: it fails the task at once."""
    return Case(name, "operator", kwargs, AirflowFailException, message, interval)


def literal(name: str, message: str, **kwargs: Any) -> Case:
    """A mistake in a literal parameter: building the operator (parsing the DAG file) fails, with the same text."""
    return Case(name, "operator", kwargs, LongPortConfigError, message)


def templated(name: str, message: str, **kwargs: Any) -> Case:
    """The same mistake behind a Jinja template: only the run can see it, and it fails the task at once."""
    rendered = {key: "{{ " + repr(value) + " }}" for key, value in kwargs.items()}
    return Case(f"{name}, templated", "operator", rendered, AirflowFailException, message)


CASES = [
    connection("plain http to the real API", PLAIN_HTTP, host="http://openapi.longportapp.com"),
    connection("plain http to a LAN proxy", PLAIN_HTTP, host="http://192.168.1.20:8080"),
    connection(
        "host without scheme",
        r"has no scheme; write the base URL in full, e\.g\. https://",
        host="openapi.longportapp.com",
    ),
    connection("host of another scheme", r"not an http\(s\) base URL; use e\.g\. https://", host="ftp://example.com"),
    connection("no login", r"has no login: set it to your LongPort app key", login=""),
    connection("no access token", r"has no access_token extra: copy the access token", {"access_token": ""}),
    connection(
        "unknown region", r"region 'mars' is not known; use one of \['cn', 'global'\]", {"region": "mars"}, host=""
    ),
    connection("timeout not a number", r"extra 'timeout' must be a number, got 'soon'", {"timeout": "soon"}),
    connection("negative timeout", r"extra 'timeout' must be positive", {"timeout": "-1"}),
    connection("zero attempts", r"extra 'max_attempts' must be positive", {"max_attempts": "0"}),
    connection("fractional attempts", r"extra 'max_attempts' must be a whole number", {"max_attempts": "2.5"}),
    connection("zero rate-limit calls", r"extra 'rate_limit_calls' must be positive", {"rate_limit_calls": "0"}),
    connection(
        "rate-limit period not a number", r"extra 'rate_limit_period' must be a number", {"rate_limit_period": "x"}
    ),
    connection(
        "negative least interval",
        r"extra 'rate_limit_min_interval' must be zero or more",
        {"rate_limit_min_interval": "-0.1"},
    ),
    connection(
        "missing CA bundle",
        r"ca_bundle' '/nonexistent/ca\.pem' does not exist on this worker; set it to "
        r"the PEM file",
        {"ca_bundle": "/nonexistent/ca.pem"},
    ),
    connection(
        "verification off",
        r"certificate verification cannot be turned off\. Set it to the PEM file",
        {"ca_bundle": "false"},
    ),
    hook("naive start", r"naive datetime; pass a timezone-aware one", start=datetime(2026, 11, 1)),
    hook("start as text", r"start must be a datetime, got str", start="2026-11-19"),
    hook("reversed window", r"the window is reversed: start .* is after end", start=END, end=END - DAY),
    hook("empty window", r"is empty \(start == end\).*CronDataIntervalTimetable", start=END, end=END),
    hook("business type 4", BUSINESS_TYPE, business_type=4),
    hook("business type as a word", BUSINESS_TYPE, business_type="cash"),
    hook("two symbols", r"symbol must be one security code such as 'AAPL\.US'", symbol="AAPL.US,TSLA.US"),
    hook("page size 0", PAGE_SIZE, page_size=0),
    hook("page size above the API's maximum", PAGE_SIZE, page_size=10001),
    hook("page size as text", PAGE_SIZE, page_size="50"),
    hook("page 0", r"page must be an integer >= 1, got 0", page=0),
    operator(
        "no data interval", r"no data interval.*logical date.*CronDataIntervalTimetable.*window_start", (None, None)
    ),
    operator("zero-length data interval", r"empty.*CronDataIntervalTimetable", (END, END)),
    operator("reversed data interval", r"reversed", (END, END - DAY)),
    literal(
        "only window_start",
        r"pass both window_start and window_end, or neither",
        window_start="2026-11-19T00:00:00+00:00",
    ),
    literal(
        "window in words",
        r"window_start='yesterday' is not an ISO 8601 date-time",
        window_start="yesterday",
        window_end="today",
    ),
    literal(
        "naive explicit window",
        r"naive datetime; pass a timezone-aware one",
        window_start="2026-11-18T00:00:00",
        window_end="2026-11-19T00:00:00",
    ),
    literal("unknown file format", r"file_format must be one of jsonl, csv, parquet; got 'xlsx'", file_format="xlsx"),
    literal(
        "zip for jsonl", r"compression 'zip' does not fit file_format 'jsonl'; use one of none, gzip", compression="zip"
    ),
    literal(
        "snappy for csv",
        r"compression 'snappy' does not fit file_format 'csv'",
        file_format="csv",
        compression="snappy",
    ),
    literal("partition by hour", r"partition_by must be one of interval, day, got 'hour'", partition_by="hour"),
    literal("daily files to XCom", r"partition_by='day' needs output_path", partition_by="day"),
    literal(
        "daily files without {date}",
        r"needs a \{date\} placeholder, e\.g\. s3://",
        partition_by="day",
        output_path="file:///tmp/x.jsonl",
    ),
    literal(
        "path without scheme",
        r"output_path '/tmp/x\.jsonl' has no scheme; write e\.g\. file:///",
        output_path="/tmp/x.jsonl",
    ),
    operator(
        "unknown storage",
        r"no filesystem for output_path scheme 'nosuchfs'.*install",
        output_path="nosuchfs://bucket/x.jsonl",
    ),
    # names the target, never our temporary file
    operator(
        "unwritable folder",
        r"^(?!.*\.tmp).*cannot write output_path file:///proc/x\.jsonl.*pick an output_path",
        output_path="file:///proc/x.jsonl",
    ),
    operator(
        "folder that cannot be made",
        r"^(?!.*\.tmp).*cannot create the folder file:///proc/forbidden .*"
        r"pick an output_path",
        output_path="file:///proc/forbidden/x.jsonl",
    ),
    literal("row group of 0", ROW_GROUP, parquet_row_group_size=0),
    literal("negative row group", ROW_GROUP, parquet_row_group_size=-5),
    literal("row group as text", ROW_GROUP, parquet_row_group_size="many"),
    literal("fractional row group", ROW_GROUP, parquet_row_group_size=2.5),
    literal("row group True", ROW_GROUP, parquet_row_group_size=True),
    literal(
        "XCom limit of 0", r"max_xcom_bytes must be a whole number of bytes of 1 or more, or None", max_xcom_bytes=0
    ),
    literal("business type 9", BUSINESS_TYPE, business_type=9),
    literal("page size in words", PAGE_SIZE_ANY, page_size="lots"),
    literal("page size 0", PAGE_SIZE_ANY, page_size=0),
    literal("two symbols", r"symbol must be one security code", symbol="AAPL.US,TSLA.US"),
    operator("plain http connection", PLAIN_HTTP, longport_conn_id="longport_plain_http"),
    # the bound is the region's: only the run knows from the connection that the account is AP
    operator("page size above the API's maximum", PAGE_SIZE, page_size=20000),
    literal("lookback with one file per run", r"lookback=3 re-reads past days .* needs partition_by='day'", lookback=3),
    literal(
        "unknown partition time zone",
        r"partition_timezone='Mars/Olympus' is not an IANA",
        partition_timezone="Mars/Olympus",
    ),
    templated("unknown file format", r"file_format must be one of jsonl, csv, parquet; got 'xlsx'", file_format="xlsx"),
    templated("page size above the API's maximum", PAGE_SIZE, page_size=20000),
    templated("business type 9", BUSINESS_TYPE, business_type=9),
    templated(
        "daily files without {date}",
        r"needs a \{date\} placeholder",
        partition_by="day",
        output_path="file:///tmp/x.jsonl",
    ),
]


@pytest.fixture(scope="module")
def quiet_sandbox() -> Iterator[Sandbox]:
    """One sandbox for the whole table (stopping one per case costs more than the cases): each case checks that
    its count of calls did not move."""
    from airflow.sdk import Asset, ObjectStoragePath

    # Airflow discovers its providers' filesystems and asset URI handlers once per process (about a second, at
    # DAG parsing); every task pays that, good input or bad, so it is paid here and not charged to the first case
    # that names a storage scheme
    ObjectStoragePath("file:///").fs  # noqa: B018
    Asset(uri="s3://bucket/key")
    with pytest.raises(AirflowFailException):  # and the first DAG a process parses and runs sets up its machinery
        run_operator(None, None)
    with Sandbox(Dataset(SPEC), rate_limit=False) as server:
        yield server


def _runner(case: Case, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, timeout=2))
    if case.where == "connection":
        conn = sandbox.connection(**UNLIMITED, timeout=2)
        conn = {**conn, **case.given, "extra": {**conn["extra"], **case.given_extra}}
        set_connection(monkeypatch, "longport_bad", conn)
        return lambda: list(CashflowHook("longport_bad").iter_cash_flows(END - DAY, END))
    if case.where == "hook":
        args = {"start": END - DAY, "end": END, **case.given}
        start, end = args.pop("start"), args.pop("end")
        if "page" in args:
            return lambda: CashflowHook().get_cash_flow_page(start, end, **args)
        return lambda: list(CashflowHook().iter_cash_flows(start, end, **args))
    set_connection(
        monkeypatch, "longport_plain_http", {**sandbox.connection(), "host": "http://openapi.longportapp.com"}
    )
    return lambda: run_operator(*case.interval, **case.given)


def test_the_table_is_broad_enough() -> None:
    assert len(CASES) >= 30 and {c.where for c in CASES} == {"connection", "hook", "operator"}
    assert len({c.name for c in CASES if c.where == "operator"}) == sum(c.where == "operator" for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.where}: {c.name}" for c in CASES])
def test_bad_input_fails_fast_before_any_call(
    case: Case, quiet_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = quiet_sandbox
    calls_before = sandbox.state.snapshot()["calls"]
    run = _runner(case, sandbox, monkeypatch)
    began = time.monotonic()
    with pytest.raises(Exception) as info:
        run()
    took = time.monotonic() - began
    error = info.value
    if case.where == "operator":
        assert type(error) is case.error, f"{type(error).__name__}: {error}"
    else:  # the hook's own class, and Airflow's no-retry failure too: a plain @task fails at once
        assert isinstance(error, case.error) and isinstance(error, AirflowFailException), type(error).__mro__
    if case.error is AirflowFailException:
        assert isinstance(error.__cause__, LongPortConfigError)
        assert "connection 'longport_default'" not in str(error)  # the parameters are not the connection's
    text = str(error)
    assert re.search(case.message, text), text
    assert repeated_phrase(text) is None, text  # each thing said once
    for secret in (DEMO.app_secret, DEMO.access_token):
        assert secret not in text
    assert sandbox.state.snapshot()["calls"] == calls_before
    assert took < 1.0, f"{case.name} took {took:.2f} s to fail"
