"""The manifest and the asset event describe the run and its query, so a downstream task can tell a filtered
file (one symbol, one business type) from a whole one; the manifest's JSON keeps the keys it always had."""

from __future__ import annotations

import logging

from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.data import DAY, END, raw
from tests.helpers.operator import run_operator

EARLIER_KEYS = [
    "interval",
    "format",
    "compression",
    "partition_by",
    "partition_timezone",
    "records",
    "bytes",
    "files",
    "api_calls",
    "complete",
]


def test_manifest_and_asset_event_carry_the_query(sandbox: Sandbox, tmp_path) -> None:
    stock = [r for r in raw(sandbox.dataset, END - DAY, END) if r["business_type"] == 2 and r["symbol"]]
    symbol = stock[0]["symbol"]
    manifest, context, op = run_operator(
        END - DAY,
        END,
        output_path=f"file://{tmp_path}/d={{date}}/cf.jsonl",
        business_type=2,
        symbol=symbol,
        page_size=7,
    )
    query = {
        "start": (END - DAY).isoformat(),
        "end": END.isoformat(),
        "symbol": symbol,
        "business_type": 2,
        "page_size": 7,
    }
    assert manifest["query"] == query
    assert list(manifest) == [*EARLIER_KEYS, "query", "dc_region"]  # the earlier shape, keys added at the end
    assert manifest["records"] == sum(1 for r in stock if r["symbol"] == symbol) > 0
    (asset,) = op.outlets
    extra = context["outlet_events"][asset].extra
    assert extra["query"] == query and extra["records"] == manifest["records"]


def test_an_unfiltered_run_says_so_and_a_lookback_widens_the_query_s_window(sandbox: Sandbox, tmp_path) -> None:
    manifest, context, op = run_operator(
        END - DAY,
        END,
        output_path=f"file://{tmp_path}/d={{date}}/cf.jsonl",
        partition_by="day",
        lookback=2,
    )
    assert manifest["query"] == {
        "start": (END - 3 * DAY).isoformat(),
        "end": END.isoformat(),
        "symbol": None,
        "business_type": None,
        "page_size": 10000,
    }
    assert manifest["interval"] == {"start": manifest["query"]["start"], "end": manifest["query"]["end"]}
    assert [day["date"] for day in manifest["rewritten"]] == [(END - n * DAY).date().isoformat() for n in (3, 2, 1)]
    (asset,) = op.outlets
    assert context["outlet_events"][asset].extra["rewritten"] == manifest["rewritten"]


def test_an_empty_interval_logs_its_one_progress_line(sandbox: Sandbox, tmp_path, caplog) -> None:
    empty_start = END - 40 * DAY  # before the data set's first record (it holds 10 days)
    with caplog.at_level(logging.INFO, logger="airflow_provider_cashflow"):
        manifest, _, _ = run_operator(
            None,
            None,
            window_start=empty_start.isoformat(),
            window_end=(empty_start + DAY).isoformat(),
            output_path=f"file://{tmp_path}/cf.jsonl",
        )
    assert manifest["records"] == 0 and manifest["api_calls"] == 1
    lines = [r.getMessage() for r in caplog.records if " so far (" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("0 records in ["), lines
    assert "(1 calls," in lines[0]
