"""The sandbox's side of the rate limit judges calls by arrival, whatever order their threads reach it in."""

from __future__ import annotations

import itertools
import random

from airflow_provider_cashflow.sandbox.state import _Budget


def _admitted(budget: _Budget, arrivals: list[float]) -> list[float]:
    return sorted(t for t in arrivals if budget.admit(t) is None)


def test_calls_judged_out_of_order_keep_every_window_within_the_budget() -> None:
    # 0.2 s apart: 15 in any 3 s, over a budget of 10; judged in arrival order, then each up to 1 s late
    arrivals = [round(i * 0.2, 3) for i in range(40)]
    late = random.Random(7)
    shuffled = sorted(arrivals, key=lambda t: t + late.uniform(0, 1.0))
    assert shuffled != arrivals
    for order in (arrivals, shuffled):
        admitted = _admitted(_Budget(10, 3.0, 0.02), order)
        assert all(sum(a <= b < a + 3.0 for b in admitted) <= 10 for a in admitted), order  # no window over
        assert all(b - a >= 0.02 for a, b in itertools.pairwise(admitted))
        assert len(admitted) >= 20, admitted  # and no call refused that fitted: at least two full budgets


def test_a_late_judged_call_is_not_refused_for_a_gap_it_kept() -> None:
    budget = _Budget(30, 30.0, 0.02)
    assert budget.admit(10.27) is None  # the later call's thread ran first
    assert budget.admit(10.0) is None  # 0.27 s before it: no gap, though judged after it
    assert budget.admit(10.01) == "gap"  # 0.01 s after the first arrival
    assert budget.admit(10.26) == "gap"  # 0.01 s before the second


def test_a_call_is_refused_when_a_window_after_it_is_full() -> None:
    budget = _Budget(3, 1.0, 0.0)
    for t in (0.5, 0.7, 0.9):
        assert budget.admit(t) is None
    assert budget.admit(0.1) == "window"  # [0.1, 1.1) would hold four
    assert budget.admit(1.5) is None  # [0.7, 1.7) holds 0.7, 0.9, 1.5
    assert budget.admit(1.6) == "window"
