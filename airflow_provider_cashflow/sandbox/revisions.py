"""A history that is not final when the day ends: late postings and provisional dividends, seen "as of" a moment.

A late record becomes visible some hours after its ``business_time``. A provisional dividend (``在途分红``,
``business_type`` 0, as in LongPort's own API example) is shown until it settles, then replaced by the paid
``Cash Dividend`` of the same amount and time. Which records do either is drawn from a hash of (seed, content id),
so the same spec revises the same records on every run.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["PAID_NAME", "PROVISIONAL_NAME", "RevisionSpec", "Revisions"]

PROVISIONAL_NAME = "在途分红"
PAID_NAME = "Cash Dividend"
_SALT_LATE = 0x1A7E
_SALT_PROVISIONAL = 0x9D1F
_SCALE = 1 << 20


@dataclass(frozen=True)
class RevisionSpec:
    """How the sandbox revises its history; all zero (the default) is a history that never changes.

    :param late_share: share of records (0..1) posted late.
    :param late_max_hours: a late record appears up to this many hours after its business_time.
    :param provisional_share: share of cash dividends (0..1) first shown as provisional (``在途分红``).
    :param settle_hours: hours after its business_time at which a provisional dividend becomes the paid one.
    """

    late_share: float = 0.0
    late_max_hours: float = 48.0
    provisional_share: float = 0.0
    settle_hours: float = 36.0

    @property
    def active(self) -> bool:
        return self.late_share > 0 or self.provisional_share > 0


class Revisions:
    """When each record becomes visible and when it becomes final, on the sandbox's "as of" clock (Unix seconds)."""

    def __init__(
        self,
        spec: RevisionSpec,
        times: Iterable[int],
        contents: Iterable[int],
        is_paid: Callable[[int], bool],
        mix: Callable[[int], int],
        seed: int,
        provisional_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ):
        """:param is_paid: whether a content id is a paid dividend (which may first be shown provisional).
        :param provisional_of: the provisional form of a paid record (default: the AP endpoint's ``在途分红``)."""
        self.spec = spec
        self._provisional_of = provisional_of or _ap_provisional
        late_max = max(1, int(spec.late_max_hours * 3600))
        settle = int(spec.settle_hours * 3600)
        self.posted = array("q")
        self.settled = array("q")  # 0: never provisional
        for t, content in zip(times, contents, strict=True):
            h = mix(seed * 5_000_011 + content * 31 + _SALT_LATE)
            late = (h % _SCALE) / _SCALE < spec.late_share
            self.posted.append(t + 1 + (h >> 24) % late_max if late else t)
            g = mix(seed * 5_000_011 + content * 31 + _SALT_PROVISIONAL)
            provisional = is_paid(content) and (g % _SCALE) / _SCALE < spec.provisional_share
            self.settled.append(t + settle if provisional else 0)

    def visible(self, index: int, as_of: int) -> bool:
        return self.posted[index] <= as_of

    def as_seen(self, index: int, row: dict[str, Any], as_of: int | None) -> dict[str, Any]:
        """``row`` (the final record) as the API shows it at ``as_of`` (``None``: converged, the final view)."""
        if as_of is not None and self.settled[index] and as_of < self.settled[index]:
            return self._provisional_of(row)
        return row

    def settled_by(self) -> int:
        """The moment after which nothing changes any more."""
        return max(max(self.posted, default=0), max(self.settled, default=0))


def _ap_provisional(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "transaction_flow_name": PROVISIONAL_NAME, "business_type": 0}
