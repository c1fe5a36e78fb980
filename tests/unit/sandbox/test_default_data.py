"""The default data says what the docs say about it."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec
from airflow_provider_cashflow.sandbox.revisions import PROVISIONAL_NAME

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_in_transit_dividends_are_business_type_0_as_in_longports_example_and_the_docs() -> None:
    data = Dataset(DatasetSpec(days=30))
    types = {
        data.record(i)["business_type"]
        for i in range(len(data))
        if data.record(i)["transaction_flow_name"] == PROVISIONAL_NAME
    }
    assert types == {0}
    said = [
        m.group(1)
        for page in DOCS.glob("*.md")
        for m in re.finditer(r"在途分红`?,? `business_type` (\d)", page.read_text(encoding="utf-8"))
    ]
    assert said and set(said) == {"0"}  # every page that names the code gives 0
