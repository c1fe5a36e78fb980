"""What a client did, for progress lines, manifests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallStats"]


@dataclass
class CallStats:
    """Counters of one client."""

    calls: int = 0
    retries: int = 0
    rate_wait: float = 0.0
    backoff_wait: float = 0.0
    token_refreshes: int = 0
    careful_pages: int = 0  # pages the fast decoder passed on to the careful parser

    def add(self, **amounts: float) -> None:
        """Add each amount to the counter of that name."""
        for name, amount in amounts.items():
            setattr(self, name, getattr(self, name) + amount)
