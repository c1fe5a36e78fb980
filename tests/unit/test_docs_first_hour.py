"""What a newcomer reads first says what the code does: every ``airflow connections test`` comes with the setting
it needs, and no example negates outflows that are already negative."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _paragraphs() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for paragraph in re.split(r"\n\s*\n", page.read_text(encoding="utf-8")):
            found.append((page.name, paragraph))
    return found


def test_every_mention_of_airflow_connections_test_names_the_setting_it_needs() -> None:
    mentions = [(page, text) for page, text in _paragraphs() if "airflow connections test" in text]
    assert mentions  # the pages do tell users about the command
    for page, text in mentions:
        assert "AIRFLOW__CORE__TEST_CONNECTION" in text, f"{page}: {text}"


def test_no_example_negates_an_outflow_again() -> None:
    for page, text in _paragraphs():
        assert not re.search(r"sign\s*=\s*1 if .*direction.* else -1", text), f"{page}: {text}"
    operator = (REPO / "docs" / "operator.md").read_text(encoding="utf-8")
    assert "net = inflow + outflow" in operator and "decimal(38, 12)" in operator
    assert "from airflow_provider_cashflow.domain.models import BusinessType, Direction" in operator
