"""Tables the docs keep by hand, held to the code they describe, so that neither drifts from the other."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path

from airflow_provider_cashflow.defaults import US_TRANSACTION_TYPES
from airflow_provider_cashflow.domain.models import CashFlow
from airflow_provider_cashflow.errors import RATE_LIMIT_CODES
from airflow_provider_cashflow.operators.retry_policy import longport_retry_policy
from airflow_provider_cashflow.sandbox.__main__ import _parser

DOCS = Path(__file__).parents[2] / "docs"


def _rows(page: str, header: str) -> list[list[str]]:
    """The cells of the table of ``page`` whose header line starts with ``header``."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_the_us_types_and_the_mapping_are_the_code_s() -> None:
    (filters,) = [row for row in _rows("us-accounts.md", "| | AP account") if row[0].startswith("filters")]
    assert tuple(re.findall(r"`(TT_\w+)`", filters[2])) == US_TRANSACTION_TYPES
    mapped = [row[0].strip("`") for row in _rows("us-accounts.md", "| cash-flow column")]
    assert mapped == list(CashFlow._fields)


def test_the_retry_policy_defaults_are_the_code_s() -> None:
    defaults = {name: param.default for name, param in inspect.signature(longport_retry_policy).parameters.items()}
    rows = {row[0]: row[1] for row in _rows("operator.md", "| error")}
    (rate_limit,) = [text for cls, text in rows.items() if "rate limit" in cls]
    (server,) = [text for cls, text in rows.items() if "server faults" in cls]

    def minutes(value: timedelta) -> str:
        return f"({int(value.total_seconds() // 60)} min)"

    assert f"`rate_limit_delay` {minutes(defaults['rate_limit_delay'])}" in rate_limit
    assert f"`max_delay` {minutes(defaults['max_delay'])}" in rate_limit
    assert f"`server_delay` {minutes(defaults['server_delay'])}" in server
    (codes,) = [cls for cls in rows if "rate limit" in cls]
    assert set(map(int, re.findall(r"\b(\d{6})\b", codes))) == set(RATE_LIMIT_CODES)


def test_the_sandbox_flag_tables_list_every_flag_of_their_group() -> None:
    groups = {group.title or "": group for group in _parser()._action_groups}

    def flags(title_start: str) -> set[str]:
        (group,) = [g for title, g in groups.items() if title.startswith(title_start)]
        return {option for action in group._group_actions for option in action.option_strings if option[:2] == "--"}

    def documented(header: str, prefix: str) -> set[str]:
        return {
            flag
            for row in _rows("sandbox.md", header)
            for flag in re.findall(r"`(--[\w-]+)", row[0])
            if flag.startswith(prefix)
        }

    every = {option for action in _parser()._actions for option in action.option_strings}
    drift, us = documented("| flag | control key (", "--"), documented("| flag | control key | in-process", "--")
    assert len(drift) > 5 and len(us) > 3
    assert flags("a history that changes") <= drift <= every  # the drift table adds --end-time, its neighbour
    assert flags("the US data centre") <= us <= every


def test_the_generated_tables_committed_in_the_pages_are_the_code_s() -> None:
    """The pages read in the repository (GitHub, the sdist) show the tables the site shows; ``make docs-tables``
    writes them."""
    import sys

    sys.path.insert(0, str(DOCS / "_gen"))
    try:
        from hooks import PAGES, with_tables
    finally:
        sys.path.remove(str(DOCS / "_gen"))
    stale, committed = [], 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        committed += text.count("<!-- end generated: ")
        if with_tables(text, page.name) != text:
            stale.append(page.name)
    assert committed >= 7  # every table, between its two markers
    assert not stale, f"generated tables out of date in {stale}: run `make docs-tables` and commit the pages"


def test_the_manifest_key_table_names_every_key_a_manifest_has() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from airflow_provider_cashflow.domain.query import CashFlowQuery
    from airflow_provider_cashflow.domain.windows import Window
    from airflow_provider_cashflow.output.manifest import DayChange, FileEntry, Manifest
    from airflow_provider_cashflow.output.tables import TableCommit

    window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    every = Manifest(  # every optional part present
        query=CashFlowQuery.of(window),
        file_format="jsonl",
        compression="none",
        partition_by="day",
        partition_timezone=ZoneInfo("UTC"),
        files=(FileEntry("file:///x", "a", "b", 1, 2),),
        records=1,
        bytes=2,
        rewritten=(DayChange("2026-11-01", True, 1, 0, 0),),
        api_calls=1,
        complete=True,
        table=TableCommit(format="delta", name="t", location="file:///t", records=1, bytes=2),
    ).to_dict()
    documented = {
        key for row in _rows("operator.md", "| key | what it holds") for key in re.findall(r"`(\w+)`", row[0])
    }
    assert documented == set(every)
    (files,) = [row[1] for row in _rows("operator.md", "| key | what it holds") if row[0] == "`files`"]
    assert all(f"`{key}`" in files for key in every["files"][0])
    (interval,) = [row[1] for row in _rows("operator.md", "| key | what it holds") if row[0] == "`interval`"]
    assert "widened by `lookback`" in interval
