"""A window that has not ended yet (a manual run for "today") is written, but says so: a warning and
``"complete": false`` in the manifest, so a downstream task can tell a partial day from a whole one."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, Sandbox
from tests.helpers.connections import set_connection
from tests.helpers.data import UNLIMITED, expected
from tests.helpers.operator import run_operator


@pytest.fixture
def sandbox_until_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(Dataset(DatasetSpec(seed=5, days=3, per_day=40)), rate_limit=False) as server:  # ends now
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=2))
        yield server


def _warnings(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    # the operator's task logger is structlog's: it prints, and reaches caplog only when stdlib logging is wired
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines() + [r.getMessage() for r in caplog.records]
    caplog.clear()
    return [line for line in lines if "warning" in line.lower() or "ends in the future" in line]


def test_a_window_that_ends_in_the_future_is_written_and_marked_incomplete(
    sandbox_until_now, tmp_path, capsys, caplog
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    yesterday, today, tomorrow = now - timedelta(days=1), now - timedelta(hours=6), now + timedelta(hours=1)
    target = tmp_path / "today.jsonl"
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        manifest, _, _ = run_operator(today, tomorrow, output_path=f"file://{target}")
    assert manifest["complete"] is False
    warnings = _warnings(capsys, caplog)
    assert any("ends in the future" in w and '"complete": false' in w for w in warnings), warnings
    written = [json.loads(line) for line in target.read_text().splitlines()]
    assert written == expected(sandbox_until_now, today, tomorrow)
    assert manifest["records"] == len(written)

    with caplog.at_level(logging.WARNING):
        manifest, _, _ = run_operator(yesterday, today, output_path=f"file://{tmp_path}/yesterday.jsonl")
    assert manifest["complete"] is True and manifest["records"] > 0
    assert not [w for w in _warnings(capsys, caplog) if "ends in the future" in w]
