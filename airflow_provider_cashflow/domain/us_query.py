"""What to ask a US account's transaction history for: a window, its kinds and currency, validated before any call,
and the JSON body that asks for one page of it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_cashflow.defaults import US_DEFAULT_PAGE_SIZE, US_TRANSACTION_TYPES
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["UsHistoryQuery", "validate_currency", "validate_types", "validate_us_page_size"]

_CURRENCY = re.compile(r"[A-Z]{3}")


def validate_types(value: Any) -> tuple[str, ...]:
    """``None`` (all kinds), one ``TT_...`` name, or a list of them (comma-separated text too, for templates)."""
    if value is None or value == "" or value == []:
        return ()
    names: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, Iterable) or isinstance(names, Mapping | bytes):
        raise LongPortConfigError(f"types must be a list of US transaction types, got {value!r}")
    chosen: list[str] = []
    for name in names:
        text = name.strip().upper() if isinstance(name, str) else name
        if text not in US_TRANSACTION_TYPES:
            raise LongPortConfigError(
                f"types: {name!r} is not a US transaction type; use any of {', '.join(US_TRANSACTION_TYPES)}"
            )
        if text not in chosen:
            chosen.append(text)
    return tuple(chosen)


def validate_currency(value: Any) -> str | None:
    """``None`` (all currencies) or one ISO 4217 code such as ``USD``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip().upper()):
        raise LongPortConfigError(f"currency must be one three-letter code such as 'USD', got {value!r}")
    return value.strip().upper()


def validate_us_page_size(value: Any) -> int:
    """Entries per call: a positive integer (the endpoint's maximum is undocumented; a refusal says so)."""
    if value is None:
        return US_DEFAULT_PAGE_SIZE
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LongPortConfigError(
            f"page_size must be a whole number of 1 or more (US default {US_DEFAULT_PAGE_SIZE}), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class UsHistoryQuery:
    """A US account's entries of ``window``, optionally of some kinds and one currency, ``page_size`` per call.

    :param window: the half-open UTC window ``[start, end)``.
    :param types: ``TT_...`` kinds, or empty for all.
    :param currency: one currency code, or ``None`` for all.
    :param page_size: the largest page to ask (default 10000; the pager learns what the server serves).
    """

    window: Window
    types: tuple[str, ...] = ()
    currency: str | None = None
    page_size: int = US_DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.window, Window):
            raise LongPortConfigError(f"a query needs a Window, got {type(self.window).__name__}")
        object.__setattr__(self, "types", validate_types(self.types))
        object.__setattr__(self, "currency", validate_currency(self.currency))
        object.__setattr__(self, "page_size", validate_us_page_size(self.page_size))

    @classmethod
    def of(cls, window: Window, *, types: Any = None, currency: Any = None, page_size: Any = None) -> UsHistoryQuery:
        return cls(window, types, currency, page_size)

    def body(self, start: int, end: int, page: int, size: int) -> bytes:
        """The JSON body asking for page ``page`` of ``size`` of seconds ``start`` to ``end``, as the SDK sends it."""
        body: dict[str, Any] = {"start": start, "end": end, "page": page, "size": size}
        if self.types:
            body["types"] = list(self.types)
        if self.currency:
            body["currency"] = self.currency
        return json.dumps(body, separators=(",", ":")).encode("utf-8")
