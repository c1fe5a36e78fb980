"""What to ask the cash-flow endpoint for: a window and its filters, validated once, before any call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_cashflow.defaults import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from airflow_provider_cashflow.domain.models import BusinessType
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["CashFlowQuery", "validate_business_type", "validate_page_size", "validate_symbol"]


def validate_business_type(value: Any) -> BusinessType | None:
    """``None``, or 1 (cash), 2 (stock), 3 (fund) as an int, enum or numeric string."""
    if value is None or value == "":
        return None
    try:
        code = int(value)
    except (TypeError, ValueError):
        code = None
    if code not in (1, 2, 3) or isinstance(value, bool):
        raise LongPortConfigError(f"business_type must be 1 (cash), 2 (stock), 3 (fund) or None, got {value!r}")
    return BusinessType(code)


def validate_symbol(value: Any) -> str | None:
    """``None``, or one security code such as ``AAPL.US`` (the endpoint takes no list)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip() or "," in value:
        raise LongPortConfigError(f"symbol must be one security code such as 'AAPL.US', got {value!r}")
    return value.strip()


def validate_page_size(page_size: Any) -> int:
    """Records per call: an integer from 1 to the endpoint's maximum; ``None`` is the default (the maximum)."""
    if page_size is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise LongPortConfigError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


@dataclass(frozen=True)
class CashFlowQuery:
    """The cash flows of ``window``, optionally of one business type and one symbol, ``page_size`` per call.

    Every field is checked (and normalised) when the query is made, so a query that exists is a valid one.

    :param window: the half-open UTC window ``[start, end)``.
    :param business_type: 1 cash, 2 stock, 3 fund, or ``None`` for all.
    :param symbol: one security code, e.g. ``AAPL.US``, or ``None`` for all.
    :param page_size: records per call, 1 to 10000 (default 10000: fewest calls under the rate limit).
    """

    window: Window
    business_type: BusinessType | None = None
    symbol: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.window, Window):
            raise LongPortConfigError(f"a query needs a Window, got {type(self.window).__name__}")
        # frozen: normalised values are set the way dataclasses set them
        object.__setattr__(self, "business_type", validate_business_type(self.business_type))
        object.__setattr__(self, "symbol", validate_symbol(self.symbol))
        object.__setattr__(self, "page_size", validate_page_size(self.page_size))

    @classmethod
    def of(
        cls, window: Window, *, business_type: Any = None, symbol: Any = None, page_size: Any = None
    ) -> CashFlowQuery:
        """A query from loosely typed input (``"2"`` for stock, ``None`` for the default page size)."""
        return cls(window, business_type, symbol, page_size)
