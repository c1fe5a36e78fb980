"""The sandbox's revising history: late postings and provisional dividends, seen "as of" a moment, over HTTP."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import (
    Dataset,
    DatasetSpec,
    RevisionSpec,
    Sandbox,
)
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from airflow_provider_cashflow.sandbox.revisions import PROVISIONAL_NAME
from tests.helpers.connections import connection, set_connection
from tests.helpers.data import END, HOUR, SPEC, UNLIMITED, expected_rows

REVISING = DatasetSpec(
    seed=11,
    days=10,
    per_day=30,
    end=END,
    revisions=RevisionSpec(late_share=0.3, late_max_hours=48, provisional_share=1.0, settle_hours=30),
)


def _hook_rows(sandbox: Sandbox | SandboxProcess, monkeypatch: pytest.MonkeyPatch, start: int, end: int) -> list[dict]:
    set_connection(monkeypatch, "longport_rev", connection(sandbox, **UNLIMITED, timeout=2))
    hook = CashflowHook("longport_rev")
    try:
        window = Window.of(*(END.fromtimestamp(t, END.tzinfo) for t in (start, end)))
        return [r.to_dict() for r in hook.iter_cash_flows(window.start, window.end, page_size=7)]
    finally:
        hook.close()


def test_the_default_sandbox_serves_exactly_what_it_served_before_revisions_existed() -> None:
    dataset = Dataset(SPEC)
    rows = list(dataset.window(dataset.start, dataset.end))
    # 在途分红 is business_type 0, as in LongPort's example and the docs (it was 1 before): the one change since
    assert {r["business_type"] for r in rows if r["transaction_flow_name"] == PROVISIONAL_NAME} == {0}
    as_before = [{**r, "business_type": 1} if r["transaction_flow_name"] == PROVISIONAL_NAME else r for r in rows]
    digest = hashlib.sha256(json.dumps(as_before, ensure_ascii=False).encode()).hexdigest()
    # sha256 of the default data set's records, taken from the sandbox before it could revise history
    assert (len(rows), digest) == (300, "cb7afc24fb114f0b0b6dab439b51365d333b16efe5bfc05a01ad6ce70028c21e")
    assert dataset.revisions is None


def test_late_postings_and_provisional_dividends_follow_the_as_of_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = Dataset(REVISING)
    start, end = dataset.start, dataset.start + 2 * 86400
    converged = list(dataset.window(start, end))
    early = list(dataset.window(start, end, as_of=end + HOUR))
    late_ones = Counter(json.dumps(r) for r in converged) - Counter(json.dumps(r) for r in early)
    assert early and late_ones, "some records must be missing an hour after the window ends"

    def provisional(rows: list[dict]) -> int:
        return sum(r["transaction_flow_name"] == PROVISIONAL_NAME and r["business_type"] == 0 for r in rows)

    # the base data has its own, never-settling 在途分红 rows: those stay; the revised ones settle
    assert provisional(early) > provisional(converged) == provisional(Dataset(SPEC).window(start, end))
    settled = list(dataset.window(start, end, as_of=dataset.revisions.settled_by()))
    assert settled == converged

    with Sandbox(dataset, rate_limit=False, as_of=end + HOUR) as sandbox:
        assert _hook_rows(sandbox, monkeypatch, start, end) == expected_rows(early)
        sandbox.control(as_of=None)  # now: the data lies in the past, so everything has settled
        assert _hook_rows(sandbox, monkeypatch, start, end) == expected_rows(converged)
        sandbox.control(as_of_after_request=HOUR)  # each call sees the view an hour after its own end_time
        assert _hook_rows(sandbox, monkeypatch, start, end) == expected_rows(early)


def test_cli_flags_and_control_endpoint_set_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    args = [
        "--seed",
        "11",
        "--days",
        "10",
        "--per-day",
        "30",
        "--end",
        END.isoformat(),
        "--no-rate-limit",
        "--late-share",
        "0.3",
        "--late-max-hours",
        "48",
        "--provisional-share",
        "1",
        "--settle-hours",
        "30",
    ]
    dataset = Dataset(REVISING)
    start, end = dataset.start, dataset.start + 86400
    with SandboxProcess(*args, "--as-of-after-request", str(HOUR)) as process:
        assert process.records(start, end) == list(dataset.window(start, end))
        assert process.records(start, end, as_of=end + HOUR) == list(dataset.window(start, end, as_of=end + HOUR))
        hour_after = _hook_rows(process, monkeypatch, start, end)
        assert hour_after == expected_rows(dataset.window(start, end, as_of=end + HOUR))
        moment = end + 20 * HOUR
        process.control(as_of=END.fromtimestamp(moment, END.tzinfo).isoformat(), as_of_after_request=None)
        seen = _hook_rows(process, monkeypatch, start, end)
        assert seen == expected_rows(dataset.window(start, end, as_of=moment)) and seen != hour_after
    with SandboxProcess(*args[:8]) as plain:  # without revision flags: the default history
        assert plain.records(start, end) == list(Dataset(SPEC).window(start, end))
