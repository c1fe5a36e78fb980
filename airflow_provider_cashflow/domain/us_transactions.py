"""A US account's transaction history: the typed record, its lossless parser, and the mapping onto the cash-flow
columns that lets AP and US accounts land in one table.

``POST /v1/us/assets/transaction-history`` sends every key as a JSON string and any of them may be missing (see
``longport-api.md``, "Data centres"). :class:`UsTransaction` keeps each key under its own name, typed where the text
has a meaning (``amount`` an exact ``Decimal``, ``create_at`` / ``done_at`` aware UTC datetimes) and as the text it
was otherwise; keys the API adds later are kept too, in ``extra``, so nothing the API sends is lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from airflow_provider_cashflow.domain.models import (
    CashFlow,
    Direction,
    Field,
    fields_of,
)
from airflow_provider_cashflow.errors import RecordError

__all__ = ["US_FIELDS", "US_FIELD_NAMES", "UsTransaction", "parse_us_transaction", "to_cash_flow"]

_TIMES = ("create_at", "done_at")


class UsTransaction(NamedTuple):
    """One entry of a US account's transaction history, every key the API sent kept.

    :param title: e.g. ``Buy AAPL``; may be non-ASCII.
    :param biz_code: the API's code of the kind of entry.
    :param biz_code_name: its readable name.
    :param amount: signed amount, exact; negative for outflows.
    :param currency: ``USD``, ...
    :param symbol: ``AAPL``, or ``None`` for pure cash movements.
    :param market: e.g. ``US``.
    :param equity_type: the security's kind, as the API names it.
    :param position_side: e.g. long or short, as the API names it.
    :param quantity: the quantity as the API wrote it (text: a share count or a contract count, exact).
    :param quantity_description: its readable form.
    :param ref_no: the API's reference; looks like a record id, but is not trusted to be unique.
    :param remark: free text, possibly non-ASCII.
    :param create_at: when the entry was created, aware UTC.
    :param done_at: when it was completed, aware UTC; ``None`` while pending.
    :param extra: keys the API sent that this model does not know, as compact JSON text (``None``: none).

    The fields are in the API's order.
    """

    title: str | None = None
    biz_code: str | None = None
    biz_code_name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    symbol: str | None = None
    market: str | None = None
    equity_type: str | None = None
    position_side: str | None = None
    quantity: str | None = None
    quantity_description: str | None = None
    ref_no: str | None = None
    remark: str | None = None
    create_at: datetime | None = None
    done_at: datetime | None = None
    extra: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the API's keys: amount as its exact decimal text, times as ISO 8601 UTC."""
        return {name: _json_value(value) for name, value in zip(US_FIELD_NAMES, self, strict=True)}


US_FIELDS: tuple[Field, ...] = fields_of(UsTransaction)
US_FIELD_NAMES: tuple[str, ...] = UsTransaction._fields
_API_KEYS = frozenset(US_FIELD_NAMES) - {"extra"}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # the exact decimal text; a JSON number would pass through a float
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal):  # open_envelope parses floats as Decimal
        raise RecordError(f"US transaction field {name!r} must be text, got {value!r}: {_preview(raw)}")
    return str(value)  # a number where text was promised: its exact text


def _amount(raw: Mapping[str, Any]) -> Decimal | None:
    value = raw.get("amount")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RecordError(f"US transaction field 'amount' must be decimal text, got {value!r}: {_preview(raw)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RecordError(f"US transaction field 'amount' must be decimal text, got {value!r}") from None
    if not amount.is_finite():
        raise RecordError(f"US transaction field 'amount' must be a finite amount, got {value!r}")
    return amount


def _time(raw: Mapping[str, Any], name: str) -> datetime | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or not text.isascii() or not text.isdigit():
        # The SDK reads anything else as absent; here it stops the run rather than lose the moment silently.
        raise RecordError(f"US transaction field {name!r} must be Unix seconds as text, got {value!r}: {_preview(raw)}")
    try:
        return datetime.fromtimestamp(int(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise RecordError(
            f"US transaction field {name!r} must be Unix seconds within years 1-9999, got {value!r}"
        ) from None


def _preview(raw: Mapping[str, Any]) -> str:
    text = repr(dict(raw))
    return text if len(text) <= 300 else text[:297] + "..."


def parse_us_transaction(raw: Mapping[str, Any]) -> UsTransaction:
    """Build a :class:`UsTransaction` from one API item; :class:`RecordError` names a field it cannot read."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"US transaction must be a JSON object, got {type(raw).__name__}: {raw!r:.200}")
    unknown = {key: raw[key] for key in raw if key not in _API_KEYS}
    return UsTransaction(
        **{name: _text(raw, name) for name in US_FIELD_NAMES if name not in ("amount", "extra", *_TIMES)},
        amount=_amount(raw),
        create_at=_time(raw, "create_at"),
        done_at=_time(raw, "done_at"),
        extra=json.dumps(unknown, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        if unknown
        else None,
    )


def _business_time(record: UsTransaction, time_field: str | None) -> datetime | None:
    chosen = getattr(record, time_field) if time_field in _TIMES else None
    return chosen or record.done_at or record.create_at


# The mapping onto the cash-flow columns --------------------------------------------------------------------


def to_cash_flow(record: UsTransaction, time_field: str | None = None) -> CashFlow:
    """``record`` as a :class:`CashFlow` row, so AP and US accounts can land in one table (docs/us-accounts.md).

    - ``transaction_flow_name``: ``biz_code_name``, else ``biz_code``, else ``title``;
    - ``direction``: outflow when ``amount`` is negative, else inflow (zero included);
    - ``business_type``: ``None`` (a US entry has no such code; its kind is in ``transaction_flow_name``);
    - ``balance``: ``amount``, signed as the AP endpoint's balance is;
    - ``currency``, ``symbol``: as sent (an empty symbol is ``None``);
    - ``business_time``: the time the server filters its window on (``time_field``), so that a record's day is its
      day file's; before that is known, ``done_at``, else ``create_at`` for an entry still pending;
    - ``description``: ``title``, then ``remark`` after `` | `` when there is one.

    :param time_field: ``create_at`` or ``done_at``, the time the server's window filters on, once learnt.
    :raises RecordError: the entry has no amount, currency, time or name, which every cash-flow row needs; the
        native columns (``us_columns="native"``) keep such an entry as it came.
    """
    missing = [
        name
        for name, value in (
            ("amount", record.amount is not None),  # a zero amount is an amount
            ("currency", record.currency),
            ("done_at or create_at", record.done_at or record.create_at),
            ("biz_code_name, biz_code or title", record.biz_code_name or record.biz_code or record.title),
        )
        if not value
    ]
    if missing:
        raise RecordError(
            f"US transaction ref_no={record.ref_no!r} has no {', '.join(missing)}, which a cash-flow row needs: "
            f"{record.to_dict()!r:.300}; write this account's native columns (us_columns='native') to keep it"
        )
    amount: Decimal = record.amount  # type: ignore[assignment]
    description = " | ".join(text for text in (record.title, record.remark) if text)
    return CashFlow(
        transaction_flow_name=record.biz_code_name or record.biz_code or record.title,  # type: ignore[arg-type]
        direction=Direction.OUTFLOW if amount < 0 else Direction.INFLOW,
        business_type=None,
        balance=amount,
        currency=record.currency,  # type: ignore[arg-type]
        business_time=_business_time(record, time_field),  # type: ignore[arg-type]
        symbol=record.symbol or None,
        description=description,
    )
