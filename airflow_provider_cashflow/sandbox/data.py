"""Deterministic, realistic cash flows for the sandbox, cheap enough for a million records.

Only the times are stored; every other field is derived from a hash of (seed, content id), so two twins
(the same fee charged twice in one second) share a content id and come out identical.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_cashflow.sandbox.revisions import PAID_NAME, Revisions, RevisionSpec

__all__ = ["Dataset", "DatasetSpec", "RevisionSpec"]

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


_STOCKS = [
    ("AAPL.US", "Apple Inc.", "USD"),
    ("TSLA.US", "Tesla, Inc.", "USD"),
    ("NVDA.US", "NVIDIA Corporation", "USD"),
    ("MSFT.US", "Microsoft Corporation", "USD"),
    ("700.HK", "腾讯控股", "HKD"),
    ("9988.HK", "阿里巴巴-W", "HKD"),
    ("3690.HK", "美团-W", "HKD"),
    ("600519.SH", "贵州茅台", "CNH"),
]
_FUNDS = [("HK0000369188.FD", "Money Market Fund (HKD)", "HKD"), ("LU0321462953.FD", "USD Liquidity Fund", "USD")]

# (name, direction, business_type, kind, sign, magnitude in cents)
_TEMPLATES = [
    ("BuyContract-Stocks", 1, 2, "stock", -1, 2_000_000),
    ("BuyContract-Stocks", 1, 2, "stock", -1, 500_000),
    ("SellContract-Stocks", 2, 2, "stock", 1, 2_000_000),
    ("Cash Dividend", 2, 1, "stock", 1, 50_000),
    ("Dividend Tax", 1, 1, "stock", -1, 5_000),
    ("在途分红", 2, 0, "stock", 1, 30_000),  # business_type 0, as in LongPort's own example
    ("Deposit", 2, 1, "cash", 1, 5_000_000),
    ("Withdrawal", 1, 1, "cash", -1, 3_000_000),
    ("Platform Fee", 1, 1, "cash", -1, 200),
    ("Commission", 1, 1, "stock", -1, 1_500),
    ("Fund Subscription", 1, 3, "fund", -1, 1_000_000),
    ("Fund Redemption", 2, 3, "fund", 1, 1_000_000),
    ("Interest Adjustment", 2, 0, "cash", 1, 1_000),
]
_CASH_CURRENCIES = ["USD", "HKD", "USD", "CNH"]
_MIDNIGHT_TEMPLATES = [3, 4, 5]  # dividends and their tax are booked at 00:00:00 UTC
_TWIN_TEMPLATE = 8  # the platform fee, charged twice in the same second


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate.

    :param seed: same seed, same data.
    :param days: span in days, ending at ``end``.
    :param per_day: records per day on average (``records`` overrides it).
    :param records: total record count, spread over the span.
    :param end: the newest possible moment (default: now); nothing is generated at or after it.
    :param revisions: late postings and provisional dividends (default: none, a history that never changes).
    """

    seed: int = 20240501
    days: int = 90
    per_day: int = 25
    records: int | None = None
    end: datetime | None = None
    revisions: RevisionSpec = field(default_factory=RevisionSpec)


class Dataset:
    """Records sorted newest first, as the API returns them, queried by inclusive time bounds."""

    def __init__(self, spec: DatasetSpec = DatasetSpec()):
        self.spec = spec
        end = spec.end or datetime.now(UTC)
        if end.tzinfo is None:
            raise ValueError("DatasetSpec.end must be timezone-aware")
        self.end = int(end.timestamp())
        self.start = int((end - timedelta(days=spec.days)).timestamp())
        total = spec.records if spec.records is not None else spec.days * spec.per_day
        rows: list[tuple[int, int]] = []  # (time, content id)
        templates = array("b")  # template of each content id
        span = max(self.end - self.start, 1)
        seed = spec.seed
        content = 0
        i = 0
        while len(rows) < total:
            h = _mix(seed * 1_000_003 + i)
            i += 1
            template = h % len(_TEMPLATES)
            if template in _MIDNIGHT_TEMPLATES and (h >> 20) % 3 == 0:
                t = self.start + (h >> 8) % span
                t -= t % 86400  # on the UTC midnight boundary
                if t < self.start:
                    t += 86400
            else:
                t = self.start + (h >> 8) % span
            if t >= self.end:
                continue
            rows.append((t, content))
            templates.append(template)
            if template == _TWIN_TEMPLATE and len(rows) < total:
                rows.append((t, content))
            content += 1
        rows.sort(key=lambda row: (-row[0], row[1]))
        self.times = array("q", (t for t, _ in rows))
        self.contents = array("q", (c for _, c in rows))
        self._neg_times = array("q", (-t for t in self.times))
        self._templates = templates
        self._filtered: dict[tuple[int | None, str | None], array[int]] = {}
        self.revisions = (
            Revisions(
                spec.revisions,
                self.times,
                self.contents,
                lambda c: _TEMPLATES[templates[c]][0] == PAID_NAME,
                _mix,
                seed,
            )
            if spec.revisions.active
            else None
        )

    def __len__(self) -> int:
        return len(self.times)

    def record(self, index: int, as_of: int | None = None) -> dict[str, Any]:
        """The record at ``index`` as the live service sends it (integer codes, string time and balance), as it
        is seen at ``as_of`` (``None``: its final form)."""
        row = self._final(index)
        return row if self.revisions is None else self.revisions.as_seen(index, row, as_of)

    def _final(self, index: int) -> dict[str, Any]:
        c = self.contents[index]
        return self._row(c, self.times[index], self._templates[c])

    def _row(self, content: int, time: int, template: int) -> dict[str, Any]:
        h = _mix(self.spec.seed * 7_777_777 + content)
        name, direction, business_type, kind, sign, magnitude = _TEMPLATES[template]
        symbol: str | None
        if kind == "stock":
            symbol, description, currency = _STOCKS[h % len(_STOCKS)]
        elif kind == "fund":
            symbol, description, currency = _FUNDS[h % len(_FUNDS)]
        else:
            symbol, description, currency = (
                (None if h & 1 else ""),
                "",
                _CASH_CURRENCIES[(h >> 3) % len(_CASH_CURRENCIES)],
            )
        cents = 1 + (h >> 12) % magnitude
        balance = f"{'-' if sign < 0 else ''}{cents // 100}.{cents % 100:02d}"
        return {
            "transaction_flow_name": name,
            "direction": direction,
            "business_type": business_type,
            "balance": balance,
            "currency": currency,
            "business_time": str(time),
            "symbol": symbol,
            "description": description,
        }

    # what the drift overlay (sandbox/drift.py) reads; filters are (business_type, symbol) or None ---------

    def select(
        self, lo: int, hi: int, filters: tuple[int | None, str | None] | None, as_of: int | None
    ) -> Sequence[int]:
        return self.indices(lo, hi, *(filters or (None, None)), as_of)

    def time_of(self, index: int) -> int:
        return self.times[index]

    def posting(self, time: int, salt: int) -> dict[str, Any]:
        """A record posted during paging: a content id of its own (past every generated one), at ``time``."""
        content = len(self._templates) + salt
        return self._row(content, time, _mix(content ^ 0x5EED) % len(_TEMPLATES))

    def row_time(self, row: dict[str, Any]) -> int:
        return int(row["business_time"])

    def matches(self, row: dict[str, Any], filters: tuple[int | None, str | None] | None) -> bool:
        return filters is None or _matches(row, *filters)

    def indices(
        self,
        start_time: int,
        end_time: int,
        business_type: int | None = None,
        symbol: str | None = None,
        as_of: int | None = None,
    ) -> range | array[int] | list[int]:
        """Indices of records with ``start_time <= t <= end_time`` (both inclusive, like the server), of those
        visible at ``as_of`` (``None``: all, the converged history)."""
        if self.revisions is not None and as_of is not None:
            revisions = self.revisions
            return [
                i
                for i in self.indices(start_time, end_time)
                if revisions.visible(i, as_of) and _matches(self.record(i, as_of), business_type, symbol)
            ]
        lo = bisect.bisect_left(self._neg_times, -end_time)
        hi = bisect.bisect_right(self._neg_times, -start_time)
        if business_type is None and not symbol:
            return range(lo, hi)
        matching = self._matching(business_type, symbol)
        a = bisect.bisect_left(matching, lo)
        b = bisect.bisect_left(matching, hi)
        return matching[a:b]

    def _matching(self, business_type: int | None, symbol: str | None) -> array[int]:
        key = (business_type, symbol or None)
        if key not in self._filtered:
            self._filtered[key] = array(
                "q",
                (i for i in range(len(self)) if _matches(self.record(i), business_type, symbol)),
            )
        return self._filtered[key]

    def window(self, start_time: int, end_time_exclusive: int, as_of: int | None = None) -> Iterator[dict[str, Any]]:
        """Ground truth for tests: the records of ``[start_time, end_time_exclusive)`` in API order, as seen at
        ``as_of`` (``None``: the converged history)."""
        for index in self.indices(start_time, end_time_exclusive - 1, as_of=as_of):
            yield self.record(index, as_of)


def _matches(row: dict[str, Any], business_type: int | None, symbol: str | None) -> bool:
    return (business_type is None or row["business_type"] == business_type) and (not symbol or row["symbol"] == symbol)
