"""Deterministic, realistic entries of a US account's transaction history, for the sandbox's US data centre.

Deposits and withdrawals (some in HKD), stock, ETF and options trades, crypto, corporate actions (dividends, their
withholding tax, a split), transfers, margin interest and platform fees charged twice in one second (identical
twins, ``ref_no`` included: it is no record id). Remarks and some names are non-ASCII. Every documented key is
sent, each as a JSON string; ``amount`` is signed decimal text.

The endpoint does not say which time its window filters on: a :class:`UsDataset` is built for one ``time_field``
(``create_at`` or ``done_at``), ordered newest first by it. As in :mod:`~airflow_provider_cashflow.sandbox.data`,
only the times are stored and every other field is a hash of (seed, content id), so twins come out identical.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_cashflow.sandbox.data import DatasetSpec, _mix
from airflow_provider_cashflow.sandbox.revisions import Revisions

__all__ = ["TIME_FIELDS", "UsDataset", "UsFilters"]

TIME_FIELDS = ("create_at", "done_at")
_SALT = 0x05A5


@dataclass(frozen=True)
class _Kind:
    type: str  # the TT_... kind the ``types`` filter selects it by
    biz_code: str
    biz_code_name: str
    title: str  # {sym} is the symbol
    security: str  # "", "stock", "etf", "option", "crypto"
    sign: int
    cents: int  # largest amount, in cents (0: no cash moves)
    settle: int  # seconds from create_at to done_at, at most
    side: str = ""
    quantity: str = ""  # "" or a fixed text; "n" draws a count


_KINDS = [
    _Kind("TT_DEPOSIT_AND_WITHDRAWAL", "CASH_IN", "Deposit", "Deposit", "", 1, 5_000_000, 2 * 86400),
    _Kind("TT_DEPOSIT_AND_WITHDRAWAL", "CASH_OUT", "Withdrawal", "Withdrawal", "", -1, 3_000_000, 86400),
    _Kind("TT_STOCKS_AND_ETFS_TRADING", "STOCK_BUY", "Buy", "Buy {sym}", "stock", -1, 2_000_000, 86400, "LONG", "n"),
    _Kind("TT_STOCKS_AND_ETFS_TRADING", "STOCK_SELL", "Sell", "Sell {sym}", "stock", 1, 2_000_000, 86400, "LONG", "n"),
    _Kind("TT_STOCKS_AND_ETFS_TRADING", "STOCK_BUY", "Buy", "Buy {sym}", "etf", -1, 1_000_000, 86400, "LONG", "n"),
    _Kind(
        "TT_OPTIONS_TRADING",
        "OPTION_BTO",
        "Buy to Open",
        "Buy to Open {sym}",
        "option",
        -1,
        300_000,
        86400,
        "LONG",
        "n",
    ),
    _Kind(
        "TT_OPTIONS_TRADING",
        "OPTION_STO",
        "Sell to Open",
        "Sell to Open {sym}",
        "option",
        1,
        300_000,
        86400,
        "SHORT",
        "n",
    ),
    _Kind("TT_CRYPTO_TRADING", "CRYPTO_BUY", "Buy", "Buy {sym}", "crypto", -1, 500_000, 0, "LONG", "0.015"),
    _Kind("TT_CORPORATE_ACTION", "DIVIDEND", "Cash Dividend", "Cash Dividend {sym}", "stock", 1, 50_000, 0),
    _Kind("TT_CORPORATE_ACTION", "DIVIDEND_TAX", "Withholding Tax", "Dividend Tax {sym}", "stock", -1, 5_000, 0),
    _Kind(
        "TT_CORPORATE_ACTION", "SPLIT", "Stock Split", "Forward Split 2:1 {sym}", "stock", 1, 0, 3 * 86400, "LONG", "n"
    ),
    _Kind(
        "TT_TRANSFER_IN_AND_OUT",
        "ACATS_IN",
        "Transfer In",
        "ACATS Transfer In {sym}",
        "stock",
        1,
        0,
        5 * 86400,
        "LONG",
        "n",
    ),
    _Kind("TT_MARGIN_FINANCING", "MARGIN_INTEREST", "Margin Interest", "Margin Interest", "", -1, 20_000, 0),
    _Kind("TT_OTHER", "PLATFORM_FEE", "Platform Fee", "Platform Fee", "", -1, 200, 0),
]
_DIVIDEND, _TWIN = 8, 13  # the paid dividend (which may first show as pending), the fee charged twice a second
_SECURITIES = {
    "stock": [
        ("AAPL", "Apple Inc."),
        ("TSLA", "Tesla, Inc."),
        ("NVDA", "NVIDIA Corporation"),
        ("BABA", "阿里巴巴集团"),
        ("NIO", "蔚来汽车"),
    ],
    "etf": [("SPY", "SPDR S&P 500 ETF Trust"), ("QQQ", "Invesco QQQ Trust")],
    "option": [
        ("AAPL261218C250000", "AAPL 2026-12-18 250.00 Call"),
        ("TSLA270115P300000", "TSLA 2027-01-15 300.00 Put"),
    ],
    "crypto": [("BTCUSD", "Bitcoin")],
}
_EQUITY_TYPE = {"stock": "STOCK", "etf": "ETF", "option": "OPTION", "crypto": "CRYPTO", "": ""}
_UNITS = {"stock": "shares", "etf": "shares", "option": "contracts", "crypto": "BTC"}
_REMARKS = [
    "",
    "",
    "",
    "现金股息 每股 0.25 美元",
    "配当金のお支払い",
    "Einzahlung per Überweisung",
    "Dépôt — virement reçu",
    "ACATS 转入 ✓",
]

_TYPE_OF = {k.biz_code: k.type for k in _KINDS} | {"DIVIDEND_PENDING": "TT_CORPORATE_ACTION"}
UsFilters = tuple[tuple[str, ...], str | None]  # (types, currency); empty types: every kind


class UsDataset:
    """A US account's entries, newest first by ``time_field``, queried by inclusive bounds on it.

    :param spec: the same spec as the AP data (seed, span, records per day, end, revisions).
    :param time_field: ``create_at`` or ``done_at``: the time the endpoint's window filters on.
    """

    def __init__(self, spec: DatasetSpec | None = None, time_field: str = "create_at"):
        spec = spec or DatasetSpec()
        if time_field not in TIME_FIELDS:
            raise ValueError(f"time_field must be one of {', '.join(TIME_FIELDS)}, not {time_field!r}")
        self.spec, self.time_field = spec, time_field
        end = spec.end or datetime.now(UTC)
        if end.tzinfo is None:
            raise ValueError("DatasetSpec.end must be timezone-aware")
        self.end, self.start = int(end.timestamp()), int((end - timedelta(days=spec.days)).timestamp())
        total = spec.records if spec.records is not None else spec.days * spec.per_day
        span, seed = max(self.end - self.start, 1), spec.seed
        rows: list[tuple[int, int, int, int]] = []  # (filtered time, content, create_at, done_at)
        self._kinds = array("b")
        i = 0
        while len(rows) < total:
            h = _mix(seed * 1_000_003 + i + _SALT)
            i += 1
            kind = h % len(_KINDS)
            content = len(self._kinds)
            created = self.start + (h >> 8) % span
            done = min(created + (h >> 40) % (_KINDS[kind].settle + 1), self.end - 1)
            self._kinds.append(kind)
            copies = 2 if kind == _TWIN and len(rows) + 1 < total else 1
            for _ in range(copies):
                rows.append((created if time_field == "create_at" else done, content, created, done))
        rows.sort(key=lambda row: (-row[0], row[1]))
        self.times = array("q", (r[0] for r in rows))
        self.contents = array("q", (r[1] for r in rows))
        self._created = array("q", (r[2] for r in rows))
        self._done = array("q", (r[3] for r in rows))
        self._neg_times = array("q", (-t for t in self.times))
        self._filtered: dict[UsFilters, array[int]] = {}
        self.revisions = (
            Revisions(
                spec.revisions,
                self.times,
                self.contents,
                lambda c: self._kinds[c] == _DIVIDEND,
                _mix,
                seed,
                provisional_of=_pending,
            )
            if spec.revisions.active
            else None
        )

    def __len__(self) -> int:
        return len(self.times)

    def record(self, index: int, as_of: int | None = None) -> dict[str, Any]:
        """The entry at ``index`` as the endpoint sends it, as seen at ``as_of`` (``None``: its final form)."""
        c = self.contents[index]
        row = self._row(c, self._created[index], self._done[index], self._kinds[c])
        return row if self.revisions is None else self.revisions.as_seen(index, row, as_of)

    def _row(self, content: int, created: int, done: int, kind_index: int) -> dict[str, Any]:
        h = _mix(self.spec.seed * 7_777_777 + content + _SALT)
        kind = _KINDS[kind_index]
        symbol, name = _SECURITIES[kind.security][h % len(_SECURITIES[kind.security])] if kind.security else ("", "")
        cents = 1 + (h >> 12) % kind.cents if kind.cents else 0
        amount = f"{'-' if kind.sign < 0 and cents else ''}{cents // 100}.{cents % 100:02d}"
        count = str(1 + (h >> 30) % (5 if kind.security == "option" else 100))
        quantity = count if kind.quantity == "n" else kind.quantity
        return {
            "title": kind.title.format(sym=symbol),
            "biz_code": kind.biz_code,
            "biz_code_name": kind.biz_code_name,
            "amount": amount,
            "currency": "HKD" if not kind.security and kind.cents > 1_000_000 and (h >> 50) % 4 == 0 else "USD",
            "symbol": symbol,
            "market": "US" if kind.security else "",
            "equity_type": _EQUITY_TYPE[kind.security],
            "position_side": kind.side,
            "quantity": quantity,
            "quantity_description": f"{quantity} {_UNITS[kind.security]} ({name})" if quantity else "",
            "ref_no": f"RN{h & 0xFFFFFFFFFFFF:012X}",
            "remark": _REMARKS[(h >> 55) % len(_REMARKS)],
            "create_at": str(created),
            "done_at": str(done),
        }

    # what the drift overlay (sandbox/history.py) reads ----------------------------------------------------

    def select(self, lo: int, hi: int, filters: UsFilters | None, as_of: int | None) -> Sequence[int]:
        """Indices of the entries with ``lo <= time_field <= hi`` matching ``filters``, visible at ``as_of``."""
        a = bisect.bisect_left(self._neg_times, -hi)
        b = bisect.bisect_right(self._neg_times, -lo)
        chosen: Sequence[int] = range(a, b)
        if filters is not None and (filters[0] or filters[1]):
            matching = self._matching(filters)
            chosen = matching[bisect.bisect_left(matching, a) : bisect.bisect_left(matching, b)]
        if self.revisions is not None and as_of is not None:
            revisions = self.revisions
            return [i for i in chosen if revisions.visible(i, as_of)]
        return chosen

    def _matching(self, filters: UsFilters) -> array[int]:
        if filters not in self._filtered:
            self._filtered[filters] = array("q", (i for i in range(len(self)) if self.matches(self.record(i), filters)))
        return self._filtered[filters]

    def time_of(self, index: int) -> int:
        return self.times[index]

    def posting(self, time: int, salt: int) -> dict[str, Any]:
        """An entry posted during paging, whose ``time_field`` is ``time``."""
        content = len(self._kinds) + salt
        kind = _mix(content ^ 0x5EED) % len(_KINDS)
        return self._row(content, time, time, kind)

    def row_time(self, row: dict[str, Any]) -> int:
        return int(row[self.time_field])

    def matches(self, row: dict[str, Any], filters: UsFilters | None) -> bool:
        if filters is None:
            return True
        types, currency = filters
        return (not types or _TYPE_OF[row["biz_code"]] in types) and (not currency or row["currency"] == currency)


def _pending(row: dict[str, Any]) -> dict[str, Any]:
    """A paid dividend as shown before it is paid."""
    return {
        **row,
        "title": row["title"].replace("Cash Dividend", "Pending Dividend"),
        "biz_code": "DIVIDEND_PENDING",
        "biz_code_name": "Pending Dividend",
    }
