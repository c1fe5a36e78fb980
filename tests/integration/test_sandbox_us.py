"""The sandbox's US data centre over HTTP: the official SDK reads it, strict body signatures, x-dc-region,
the undocumented behaviours as settings, and faults, rate limits, revisions and drift on it."""

from __future__ import annotations

import json
import textwrap
from collections import Counter

import pytest
import requests

from airflow_provider_cashflow.client.auth import SignatureAuth
from airflow_provider_cashflow.defaults import US_HISTORY_PATH
from airflow_provider_cashflow.sandbox import DEMO, DEMO_US, Sandbox, UsDataset, UsOptions
from airflow_provider_cashflow.sandbox.data import Dataset, DatasetSpec, RevisionSpec
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.data import DAY, END, SPEC, SPEC_ARGS
from tests.helpers.processes import run_script

START_TS, END_TS = int((END - 2 * DAY).timestamp()), int(END.timestamp())

SDK_PAGER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timezone
    from longbridge.openapi import Config, TradeContext
    base, start, end, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cfg = Config.from_apikey("us_sandbox-app-key", "us_sandbox-app-secret", "us_sandbox-access-token",
                             http_url=base, enable_print_quote_packages=False)
    ctx = TradeContext(cfg)
    out, page = [], 1
    while True:  # one page per call: paging is the caller's job
        answer = ctx.us_transaction_history(start_at=datetime.fromtimestamp(start, timezone.utc),
                                            end_at=datetime.fromtimestamp(end, timezone.utc), page=page, size=size)
        out += [{"ref_no": r.ref_no, "amount": str(r.amount), "title": r.title, "remark": r.remark,
                 "create_at": int(r.create_at.replace(tzinfo=timezone.utc).timestamp())} for r in answer.items]
        if len(answer.items) < size:
            break
        page += 1
    print(json.dumps({"rows": out, "pages": page}, ensure_ascii=False))
    """
)


def _session(creds=DEMO_US, region: str | None = "us") -> requests.Session:
    session = requests.Session()
    session.auth = SignatureAuth(creds.app_key, creds.app_secret, creds.access_token, dc_region=region or "ap")
    if region is None:
        session.hooks["response"] = []
    return session


def _post(session: requests.Session, base: str, **body) -> dict:
    data = json.dumps(body).encode()
    answer = session.post(
        base + US_HISTORY_PATH, data=data, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    return {"status": answer.status_code, **answer.json()}


def _read_all(base: str, start: int, end: int, size: int, **filters) -> list[dict]:
    session, rows, page = _session(), [], 1
    while True:
        answer = _post(session, base, start=start, end=end, page=page, size=size, **filters)
        assert answer["code"] == 0, answer
        assert answer["data"]["current_page"] == page
        rows += answer["data"]["items"]
        if len(answer["data"]["items"]) < size:
            return rows
        page += 1


def test_the_official_sdk_reads_the_us_history_and_gets_every_entry() -> None:
    with SandboxProcess(
        *SPEC_ARGS,
        "--no-rate-limit",
    ) as sandbox:
        sdk = run_script(SDK_PAGER, sandbox.base_url, START_TS, END_TS, 7)
        truth = sandbox.us_records(START_TS, END_TS + 1)  # the SDK's end is inclusive, the truth's half-open
        stats = sandbox.stats()
    assert sdk["pages"] > 5 and len(sdk["rows"]) == len(truth) > 30
    want = [
        {
            "ref_no": r["ref_no"],
            "amount": r["amount"],
            "title": r["title"],
            "remark": r["remark"],
            "create_at": int(r["create_at"]),
        }
        for r in truth
    ]
    assert sdk["rows"] == want
    assert any(not r["remark"].isascii() for r in sdk["rows"])
    assert stats["rejected_auth"] == stats["rejected_region"] == 0


def test_body_signatures_are_strict_and_each_centre_serves_only_its_own_accounts(dataset) -> None:
    with Sandbox(dataset, rate_limit=False) as sandbox:
        base = sandbox.base_url
        assert _post(_session(), base, start=START_TS, end=END_TS)["code"] == 0

        tampered = _session()
        original = tampered.auth

        def swap_body(request):  # signed for one body, sent with another
            original(request)
            request.body = json.dumps({"start": START_TS, "end": END_TS, "size": 50}).encode()
            request.headers["Content-Length"] = str(len(request.body))
            return request

        tampered.auth = swap_body
        assert _post(tampered, base, start=START_TS, end=END_TS)["code"] == 403201

        ap_on_us = _post(_session(DEMO, "ap"), base, start=START_TS, end=END_TS)
        assert (ap_on_us["status"], ap_on_us["code"]) == (500, 12)
        assert "only available in the US data center and is not supported for your AP-region" in ap_on_us["message"]
        us_on_ap = _session(DEMO_US).get(
            f"{base}/v1/asset/cashflow", params={"start_time": START_TS, "end_time": END_TS}
        )
        assert us_on_ap.status_code == 500 and us_on_ap.json()["message"].startswith(
            "this API (/v1/asset/cashflow) is only available in the AP data center and is not supported for your "
            "US-region account; use the US endpoint POST /v1/us/assets/transaction-history"
        )
        misrouted = _post(_session(DEMO_US, "ap"), base, start=START_TS, end=END_TS)
        assert misrouted["code"] == 12 and "send x-dc-region: us" in misrouted["message"]
        stats = sandbox.state.snapshot()
        assert stats["rejected_region"] == 3 and stats["pages_served"] == 1  # no refused call reads data


def test_order_time_field_and_size_limit_are_settings_and_every_order_holds_the_same_entries() -> None:
    with SandboxProcess(
        *SPEC_ARGS,
        "--no-rate-limit",
        "--us-order",
        "oldest",
        "--us-max-size",
        "50",
    ) as sandbox:
        base = sandbox.base_url
        oldest = _read_all(base, START_TS, END_TS - 1, 50)
        times = [int(r["create_at"]) for r in oldest]
        assert times == sorted(times) and len(oldest) > 50
        refused = _post(_session(), base, start=START_TS, end=END_TS, size=51)
        assert refused["code"] == 400001 and "size must be an integer from 1 to 50" in refused["message"]
        sandbox.control(us_order="shuffled", us_max_size=1000)
        shuffled = _read_all(base, START_TS, END_TS - 1, 9)
        assert Counter(map(json.dumps, shuffled)) == Counter(map(json.dumps, oldest)) and shuffled != oldest
        sandbox.control(us_time_field="done_at", us_order="newest")
        by_done = _read_all(base, START_TS, END_TS - 1, 1000)
        assert by_done == sandbox.us_records(START_TS, END_TS)
        assert [r for r in by_done if not START_TS <= int(r["create_at"]) < END_TS]  # settled in, created before
        assert all(START_TS <= int(r["done_at"]) < END_TS for r in by_done)
        options = _read_all(base, START_TS, END_TS - 1, 1000, types=["TT_OPTIONS_TRADING"], currency="USD")
        assert options and all(r["equity_type"] == "OPTION" for r in options)
        assert sandbox.stats()["rejected_params"] == 1


def test_faults_rate_limit_revisions_and_drift_on_the_us_endpoint() -> None:
    spec = DatasetSpec(
        seed=SPEC.seed,
        days=SPEC.days,
        per_day=SPEC.per_day,
        end=END,
        revisions=RevisionSpec(provisional_share=1.0, settle_hours=30),
    )
    with Sandbox(
        Dataset(SPEC), us_dataset=UsDataset(spec), rate_limit=False, us=UsOptions(max_size=1000), as_of=END_TS
    ) as sandbox:
        base, session = sandbox.base_url, _session()
        sandbox.state.faults.schedule("5xx", "type_drift")
        assert _post(session, base, start=START_TS, end=END_TS)["status"] == 500
        drifted = _post(session, base, start=START_TS, end=END_TS, size=5)["data"]["items"]
        assert drifted and all(isinstance(r["amount"], float) and isinstance(r["create_at"], int) for r in drifted)
        early = _post(session, base, start=START_TS, end=END_TS, size=1000)["data"]["items"]
        assert any(r["biz_code"] == "DIVIDEND_PENDING" for r in early)  # as of END: not settled yet
        sandbox.control(as_of=None)
        settled = _post(session, base, start=START_TS, end=END_TS, size=1000)["data"]["items"]
        assert not any(r["biz_code"] == "DIVIDEND_PENDING" for r in settled) and len(settled) == len(early)

        sandbox.control(drift={"postings": 1, "cancellations": 1, "seed": 2})
        mark = sandbox.mark()
        rows = _read_all(base, START_TS, END_TS - 1, 10)
        truth = sandbox.drift_truth(START_TS, END_TS, after=mark, us=True)
        assert truth.calls is not None and len(truth.came) == truth.calls[1] - truth.calls[0]  # one per gap
        assert 0 < len(truth.went) <= len(truth.came)  # a cancelled posting of the run counts as come, not gone
        assert not Counter(map(json.dumps, truth.throughout)) - Counter(map(json.dumps, settled + truth.came))
        assert sandbox.state.snapshot()["us_drift"]["posted"] > 0 == sandbox.state.snapshot()["drift"]["posted"]
        assert rows
        sandbox.state.max_calls, sandbox.state.rate_limit = 0, True  # a budget that holds no call at all
        assert _post(session, base, start=START_TS, end=END_TS)["code"] == 429002


@pytest.mark.parametrize("endpoint", ["us", "ap"])
def test_the_records_endpoint_answers_for_either_centre(sandbox_process: SandboxProcess, endpoint: str) -> None:
    rows = sandbox_process._call(f"/__sandbox/records?start_time={START_TS}&end_time={END_TS}&endpoint={endpoint}")
    want = (
        sandbox_process.us_records(START_TS, END_TS) if endpoint == "us" else sandbox_process.records(START_TS, END_TS)
    )
    assert rows == want and rows
    assert ("ref_no" in rows[0]) == (endpoint == "us")
