"""Which fault, if any, the sandbox injects into the next cash-flow call."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DATA_FAULTS", "FAULT_KINDS", "FaultPlan", "drifted", "us_drifted"]

FAULT_KINDS = ("5xx", "429", "reset", "truncated", "html", "stall")
# Not transient, so never drawn at random: a page whose first record lacks its currency, and a page with the
# documented type drift (codes as text, balance as a JSON number, time as an integer).
DATA_FAULTS = ("missing_field", "type_drift")
_KNOWN = FAULT_KINDS + DATA_FAULTS


@dataclass
class FaultPlan:
    """Random faults on a share of calls, scheduled faults for exact calls, and a persistent outage.

    :param rate: share of calls (0..1) that get a random fault from ``kinds``.
    :param every: if set, exactly every n-th call gets a fault, cycling through ``kinds`` (repeatable counts).
    :param kinds: the fault kinds to draw from.
    :param seed: seeds the draw, so a run is repeatable.
    :param fail_after_pages: after this many successful pages, every call fails with ``fail_kind``
        until the plan is changed (the "cause" a re-run must outlive).
    :param fail_kind: the fault of that outage.
    :param stall_seconds: how long a ``stall`` holds the answer back.
    """

    rate: float = 0.0
    every: int | None = None
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    fail_after_pages: int | None = None
    fail_kind: str = "5xx"
    stall_seconds: float = 3.0
    scheduled: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        unknown = [kind for kind in (*self.kinds, self.fail_kind) if kind not in _KNOWN]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(_KNOWN)}")
        if not 0 <= self.rate <= 1:
            raise ValueError("fault rate must be between 0 and 1")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._pages_served = 0
        self._calls = 0
        self._cycled = 0

    def schedule(self, *kinds: str) -> None:
        """Inject exactly these faults into the next calls, in order."""
        for kind in kinds:
            if kind not in _KNOWN:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(_KNOWN)}")
        with self._lock:
            self.scheduled.extend(kinds)

    def next_fault(self) -> str | None:
        with self._lock:
            self._calls += 1
            if self.scheduled:
                return self.scheduled.popleft()
            if self.fail_after_pages is not None and self._pages_served >= self.fail_after_pages:
                return self.fail_kind
            if self.every and self._calls % self.every == 0:
                self._cycled += 1
                return self.kinds[(self._cycled - 1) % len(self.kinds)]
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
            return None

    def page_served(self) -> None:
        with self._lock:
            self._pages_served += 1


def drifted(row: dict[str, Any]) -> dict[str, Any]:
    """A record as the live service sometimes sends it: codes as text, balance as a JSON number."""
    return {
        **row,
        "direction": str(row["direction"]),
        "business_type": str(row["business_type"]),
        "balance": float(row["balance"]),  # as a JSON number; these amounts have two decimals, which floats keep
        "business_time": int(row["business_time"]),
    }


def us_drifted(row: dict[str, Any]) -> dict[str, Any]:
    """A US entry with the type drift the official SDK rejects: amount as a JSON number, times as integers."""
    return {
        **row,
        "amount": float(row["amount"]),
        "create_at": int(row["create_at"]),
        "done_at": int(row["done_at"]),
    }
