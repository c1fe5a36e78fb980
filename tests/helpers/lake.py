"""Reading what the operator wrote back, and the exactness check of a lake against the sandbox's truth."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_cashflow.domain.models import FIELD_NAMES
from tests.helpers.data import Source, day_bounds, expected


def read_records(path: Path, file_format: str, compression: str) -> list[dict[str, Any]]:
    """A written file back as ``to_dict()`` rows."""
    data = path.read_bytes()
    if compression == "gzip" and file_format != "parquet":
        data = gzip.decompress(data)
    if file_format == "jsonl":
        return jsonl(data)
    if file_format == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        assert rows == [] or list(rows[0]) == list(FIELD_NAMES)
        return [
            {
                **r,
                "direction": int(r["direction"]),
                "business_type": int(r["business_type"]) if r["business_type"] else None,
                "symbol": r["symbol"] or None,
            }
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


def normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parquet keeps the amount, not its text; compare amounts as numbers."""
    return [{**r, "balance": str(Decimal(r["balance"]).normalize())} for r in rows]


def jsonl(data: bytes | Path) -> list[dict[str, Any]]:
    """JSON lines (bytes or a file) as rows."""
    text = data.read_text(encoding="utf-8") if isinstance(data, Path) else data.decode("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def files(lake: Path) -> dict[str, bytes]:
    """Every file under ``lake`` by its relative path, temporary ones included."""
    return {p.relative_to(lake).as_posix(): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}


def jsonl_by_folder(lake: Path) -> dict[str, list[dict[str, Any]]]:
    """Each ``*.jsonl`` file's rows under the name of its folder (``date=2026-11-12``)."""
    return {p.parent.name: jsonl(p) for p in sorted(lake.rglob("*.jsonl"))}


def assert_no_temporary(names: list[str] | dict[str, Any]) -> None:
    assert not [name for name in names if Path(name).name.startswith(".")], "a temporary file was left behind"


def assert_days_exact(lake: Path, source: Source, days: set[str], *, only: bool = False) -> int:
    """Each UTC day's ``date=DAY/cashflow.jsonl`` holds exactly the sandbox's records of that day, and no
    temporary file is left (with ``only``, no other file at all); returns the number of records."""
    written = files(lake)
    assert_no_temporary(written)
    if only:
        assert sorted(written) == sorted(f"date={d}/cashflow.jsonl" for d in days)  # one file a day
    total = 0
    for day in days:
        rows = jsonl(written[f"date={day}/cashflow.jsonl"])
        assert rows == expected(source, *day_bounds(day)), f"{day} differs from the sandbox"
        total += len(rows)
    return total
