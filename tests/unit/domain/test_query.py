"""The query is checked once, before any call."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.domain.query import validate_page_size


@pytest.mark.parametrize("bad", [0, 10001, -1, 2.5, "50", True])
def test_page_size_bounds(bad: object) -> None:
    with pytest.raises(ValueError, match="1 to 10000"):
        validate_page_size(bad)  # type: ignore[arg-type]
