"""Running the operator the way a task would, without a metadata DB, and reading its files back."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow.sdk import DAG
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_cashflow.domain.models import FIELD_NAMES, parse_cash_flow
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

_counter = iter(range(1_000_000))


def run_operator(start: datetime | None, end: datetime | None, *, schedule: Any = None,
                 extra_context: dict[str, Any] | None = None, **kwargs: Any) -> tuple[Any, dict, CashflowOperator]:
    """Build the operator inside a DAG, render its templates against a hand-built context, execute it."""
    with DAG(f"test_dag_{next(_counter)}", schedule=schedule, start_date=datetime(2020, 1, 1, tzinfo=timezone.utc)):
        op = CashflowOperator(task_id="extract", **kwargs)
    context: dict[str, Any] = {"outlet_events": OutletEventAccessors(), "params": {}, **(extra_context or {})}
    if start is not None:
        context["data_interval_start"] = start
    if end is not None:
        context["data_interval_end"] = end
    op.render_template_fields(context)
    return op.execute(context), context, op


def read_records(path: Path, file_format: str, compression: str) -> list[dict]:
    """A written file back as ``to_dict()`` rows."""
    data = path.read_bytes()
    if compression == "gzip" and file_format != "parquet":
        data = gzip.decompress(data)
    if file_format == "jsonl":
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]
    if file_format == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        assert rows == [] or list(rows[0]) == list(FIELD_NAMES)
        return [
            {**r, "direction": int(r["direction"]),
             "business_type": int(r["business_type"]) if r["business_type"] else None,
             "symbol": r["symbol"] or None}
            for r in rows
        ]
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    out = []
    for r in table.to_pylist():
        r["balance"] = str(Decimal(r["balance"]).normalize()) if r["balance"] is not None else None
        r["business_time"] = r["business_time"].strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(r)
    return out


def normalised(rows: list[dict]) -> list[dict]:
    """Parquet keeps the amount, not its text; compare amounts as numbers."""
    return [{**r, "balance": str(Decimal(r["balance"]).normalize())} for r in rows]


def expected_rows(raw_rows: list[dict]) -> list[dict]:
    return [parse_cash_flow(r).to_dict() for r in raw_rows]


_WORD = r"[\w.:/'{}()=-]+"


def repeated_phrase(text: str, words: int = 4) -> str | None:
    """The first phrase of ``words`` words (or a URL) that ``text`` says twice, else ``None``: an error message
    that repeats itself ("e.g. https://x, or https://x") reads as a mistake."""
    import re

    urls = re.findall(r"https?://[^\s,;)'\"]+", text)
    for url in urls:
        if urls.count(url) > 1:
            return url
    tokens = [t.strip(".,;:()").lower() for t in re.findall(_WORD, text)]
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - words + 1):
        gram = tuple(tokens[i : i + words])
        if gram in seen and seen[gram] + words <= i:
            return " ".join(gram)
        seen.setdefault(gram, i)
    return None
