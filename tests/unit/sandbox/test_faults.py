"""The sandbox's fault plan."""

from __future__ import annotations

import pytest

from airflow_provider_cashflow.sandbox.faults import FaultPlan


def test_an_unknown_fault_kind_is_refused_with_every_kind_the_sandbox_knows() -> None:
    for attempt in (lambda: FaultPlan(kinds=("nope",)), lambda: FaultPlan().schedule("nope")):
        with pytest.raises(ValueError, match="nope") as error:
            attempt()
        assert "stall" in str(error.value) and "type_drift" in str(error.value)
    FaultPlan(kinds=("type_drift",)).schedule("missing_field", "5xx")  # data faults are known kinds too
