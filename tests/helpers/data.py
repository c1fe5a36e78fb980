"""The tests' fixed data set and the sandbox's ground truth: what a window must hold, record for record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_cashflow.domain.models import parse_cash_flow
from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, RevisionSpec, Sandbox
from airflow_provider_cashflow.sandbox.process import SandboxProcess

# A fixed anchor keeps windows and data repeatable; signatures still use the real clock.
END = datetime(2026, 11, 20, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = DatasetSpec(seed=11, days=10, per_day=30, end=END)
# two weeks of a history that changes after the fact, what a lookback is for: a quarter of the records posted late
# (up to 48 h), every record provisional until it settles (30 h)
REVISING = DatasetSpec(
    seed=5,
    days=14,
    per_day=30,
    end=END,
    revisions=RevisionSpec(late_share=0.25, late_max_hours=48, provisional_share=1.0, settle_hours=30),
)
HOUR = 3600  # seconds
# connection extras that take the client's own pacing out of a test that is not about it (its sandbox has no
# limit): no window to speak of and no gap between two calls
UNLIMITED: dict[str, Any] = {"rate_limit_calls": 100000, "rate_limit_period": 1, "rate_limit_min_interval": 0}

Source = Dataset | Sandbox | SandboxProcess


def raw(source: Source, start: datetime, end: datetime, as_of: int | None = None) -> list[dict[str, Any]]:
    """The sandbox's own records of ``[start, end)`` in API order, as seen at ``as_of`` (``None``: converged),
    from the data set itself, an in-process sandbox or a sandbox process."""
    bounds = int(start.timestamp()), int(end.timestamp())
    if isinstance(source, SandboxProcess):
        return source.records(*bounds, as_of)
    dataset = source.dataset if isinstance(source, Sandbox) else source
    return list(dataset.window(*bounds, as_of=as_of))


def expected_rows(raw_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw API records as the operator writes them (``CashFlow.to_dict()``)."""
    return [parse_cash_flow(r).to_dict() for r in raw_rows]


def expected(source: Source, start: datetime, end: datetime, as_of: int | None = None) -> list[dict[str, Any]]:
    """What a run of ``[start, end)`` must write: the truth, as ``to_dict()`` rows."""
    return expected_rows(raw(source, start, end, as_of))


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """The UTC day ``YYYY-MM-DD`` as ``[start, end)``."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start, start + DAY


def sandbox_flags(spec: DatasetSpec) -> list[str]:
    """The command-line flags that make a sandbox process serve ``spec``'s data (and revisions)."""
    flags = ["--seed", str(spec.seed), "--days", str(spec.days), "--per-day", str(spec.per_day)]
    if spec.end is not None:
        flags += ["--end", spec.end.isoformat()]
    if spec.records is not None:
        flags += ["--records", str(spec.records)]
    revisions = spec.revisions
    if revisions != RevisionSpec():
        flags += ["--late-share", str(revisions.late_share), "--late-max-hours", str(revisions.late_max_hours)]
        flags += ["--provisional-share", str(revisions.provisional_share)]
        flags += ["--settle-hours", str(revisions.settle_hours)]
    return flags


# the fixed data set, as the sandbox's command line takes it
SPEC_ARGS = tuple(sandbox_flags(SPEC))
