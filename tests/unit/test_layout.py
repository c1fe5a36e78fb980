"""The package's shape: one module per concept, none past 300 lines (past that it is two things)."""

from __future__ import annotations

from pathlib import Path

import airflow_provider_cashflow

PACKAGE = Path(airflow_provider_cashflow.__file__).parent
MAX_LINES = 300


def test_no_module_is_over_300_lines() -> None:
    sizes = {path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 20  # the whole package was read
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"split these modules, each into the concepts it holds: {too_long}"
