"""The sandbox's changing history over HTTP: drift between calls, its ground truth, and end_time's two meanings."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import pytest
import requests

from airflow_provider_cashflow.client.auth import SignatureAuth
from airflow_provider_cashflow.domain.models import parse_cash_flow
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import DEMO, Dataset
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.connections import connection, set_connection
from tests.helpers.data import DAY, END, SPEC, SPEC_ARGS, UNLIMITED

BASE_ARGS = [*SPEC_ARGS, "--no-rate-limit"]
START_TS, END_TS = int((END - 2 * DAY).timestamp()), int(END.timestamp())


def _call(session: requests.Session, base: str, start: int, end: int, page: int, size: int) -> requests.Response:
    return session.get(
        f"{base}/v1/asset/cashflow", params={"start_time": start, "end_time": end, "page": page, "size": size}
    )


def _offset_pager(base: str, start: int, end: int, size: int) -> list[dict]:
    """What every peer does: page 1, 2, 3 ... of one window until a short page."""
    session = requests.Session()
    session.auth = SignatureAuth(DEMO.app_key, DEMO.app_secret, DEMO.access_token)
    rows, page = [], 1
    while True:
        answer = _call(session, base, start, end, page, size).json()
        assert answer["code"] == 0, answer
        rows += answer["data"]["list"]
        if len(answer["data"]["list"]) < size:
            return rows
        page += 1


def _parsed_key(record: dict) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_drift_from_the_command_line_breaks_offset_paging_and_the_truth_says_how(monkeypatch) -> None:
    drift = ["--drift-postings", "1", "--drift-cancellations", "1", "--drift-seed", "3"]
    with SandboxProcess(*BASE_ARGS, *drift) as sandbox:
        mark = sandbox.mark()
        rows = _offset_pager(sandbox.base_url, START_TS, END_TS - 1, 7)
        truth = sandbox.drift_truth(START_TS, END_TS, after=mark, app_key=DEMO.app_key)
        pages = -(-len(rows) // 7) + (len(rows) % 7 == 0)
        assert truth.calls == (mark + 1, mark + pages) and pages > 5
        assert len(truth.came) == len(truth.went) == pages - 1  # one of each between two calls
        problems = truth.problems(rows)
        assert problems, "drift between the calls must make offset paging lose or duplicate records"
        assert sandbox.stats()["drift"] == {"posted": pages, "cancelled": pages}  # the last call drifted too

        # one call that holds the whole window cannot drift: the hook's records are exactly the truth's
        set_connection(monkeypatch, "longport_drift", connection(sandbox, **UNLIMITED))
        mark = sandbox.mark()
        hook = CashflowHook("longport_drift")
        try:
            got = [r.to_dict() for r in hook.iter_cash_flows(END - 2 * DAY, END, page_size=10_000)]
        finally:
            hook.close()
        truth = sandbox.drift_truth(START_TS, END_TS, after=mark)
        assert truth.problems(map(_parsed_key, got), key=lambda raw: _parsed_key(parse_cash_flow(raw).to_dict())) == {}
        assert len(got) == len(truth.throughout) > 50


def test_drift_set_over_the_control_endpoint_and_held_still_by_faults_and_bad_signatures() -> None:
    with SandboxProcess(*BASE_ARGS) as sandbox:
        still = _offset_pager(sandbox.base_url, START_TS, END_TS - 1, 9)
        assert still == sandbox.records(START_TS, END_TS)  # no drift flags: a history that stands still
        sandbox.control(drift={"postings": 2, "placements": ["twin"], "seed": 1})
        session = requests.Session()
        session.auth = SignatureAuth(DEMO.app_key, DEMO.app_secret, DEMO.access_token)
        before = sandbox.mark()
        sandbox.control(faults={"rate": 0, "kinds": ["5xx"], "fail_after_pages": 0})
        assert _call(session, sandbox.base_url, START_TS, END_TS, 1, 5).status_code == 500
        bad = requests.Session()
        bad.auth = SignatureAuth(DEMO.app_key, "not-the-secret", DEMO.access_token)
        assert _call(bad, sandbox.base_url, START_TS, END_TS, 1, 5).json()["code"] == 403201
        assert sandbox.mark() == before and sandbox.stats()["drift"]["posted"] == 0  # no page, no drift
        sandbox.control(faults={"rate": 0})
        first = _call(session, sandbox.base_url, START_TS, END_TS, 1, 5).json()["data"]["list"]
        assert sandbox.mark() == before + 1 and sandbox.stats()["drift"]["posted"] == 2
        added = Counter(map(_parsed_key, sandbox.records(START_TS, END_TS))) - Counter(map(_parsed_key, still))
        assert sum(added.values()) == 2 and set(added) <= set(map(_parsed_key, first))  # twins of what was served
        sandbox.control(drift=None, drift_reset=True)
        assert sandbox.records(START_TS, END_TS) == still


def test_end_time_is_served_inclusively_or_exclusively_as_set() -> None:
    dataset = Dataset(SPEC)
    edge = dataset.times[len(dataset) // 2]  # a second that holds a record
    with SandboxProcess(*BASE_ARGS, "--end-time", "exclusive") as sandbox:
        session = requests.Session()
        session.auth = SignatureAuth(DEMO.app_key, DEMO.app_secret, DEMO.access_token)

        def seconds() -> set[int]:
            rows = _call(session, sandbox.base_url, edge - 3600, edge, 1, 1000).json()["data"]["list"]
            return {int(r["business_time"]) for r in rows}

        assert edge not in seconds() and seconds()  # end_time itself is left out
        sandbox.control(end_time="inclusive")
        assert edge in seconds()


@pytest.mark.parametrize(
    "start", [str(START_TS), "2026-11-18T00:00:00+00:00", "2026-11-18T00:00:00Z", "2026-11-18T08:00:00%2B08:00"]
)
def test_the_records_endpoint_takes_unix_seconds_or_iso_times(sandbox_process: SandboxProcess, start: str) -> None:
    status, rows = _get(f"{sandbox_process.base_url}/__sandbox/records?start_time={start}&end_time={END_TS}")
    assert status == 200 and rows == list(Dataset(SPEC).window(START_TS, END_TS))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("start_time=yesterday&end_time=1", "start_time='yesterday' is neither Unix seconds"),
        ("start_time=2026-11-18T00:00:00&end_time=1", "neither Unix seconds (1763596800) nor an ISO 8601"),
        ("end_time=1", "start_time is required"),
    ],
)
def test_the_records_endpoint_answers_400_with_the_reason(sandbox_process: SandboxProcess, query, reason) -> None:
    status, body = _get(f"{sandbox_process.base_url}/__sandbox/records?{query}")
    assert status == 400 and reason in body["error"]


def test_a_bad_control_call_is_answered_400_not_dropped(sandbox_process: SandboxProcess) -> None:
    request = urllib.request.Request(
        f"{sandbox_process.base_url}/__sandbox/control",
        method="POST",
        data=json.dumps({"drift": {"postings": 1, "placements": ["older"]}}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert (
        error.value.code == 400 and "known: newer, inside, cursor, twin, end" in json.loads(error.value.read())["error"]
    )
