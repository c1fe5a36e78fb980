"""The typed ``CashFlow`` record, the one declaration of its schema, and the tolerant parser that builds it.

The CSV header, the Parquet schema and writer, ``to_dict`` and the fast page decoder are all derived from
:class:`CashFlow`'s annotations through :data:`FIELDS`; a new field is added there and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, NamedTuple, get_args, get_type_hints

from airflow_provider_cashflow.errors import RecordError

__all__ = ["FIELDS", "FIELD_NAMES", "BusinessType", "CashFlow", "Direction", "Field", "fields_of", "parse_cash_flow"]


class _OpenIntEnum(IntEnum):
    """An IntEnum that turns a code it does not know into a pseudo-member instead of failing.

    The live service sends codes outside the documented set (``business_type`` 0, for one); a new code
    must not stop an extraction of years of history.
    """

    @classmethod
    def _missing_(cls, value: object) -> _OpenIntEnum | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        # kept, as Flag keeps its pseudo-members, so the next record of this code finds it: a page of business_type
        # 0 spent a tenth of its decoding building them (msgspec asks here on every miss of its own table)
        known = cls._value2member_map_.get(value)
        if isinstance(known, cls):
            return known
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        cls._value2member_map_.setdefault(value, member)
        return member


class Direction(_OpenIntEnum):
    """Direction of a cash flow; the value is the API code."""

    OUTFLOW = 1
    INFLOW = 2


class BusinessType(_OpenIntEnum):
    """Funding category (the API's ``business_type``); the value is the API code."""

    CASH = 1
    STOCK = 2
    FUND = 3


class CashFlow(NamedTuple):
    """One cash flow, with the API's field names; immutable (a named tuple: cheap to build by the million).

    :param transaction_flow_name: e.g. ``BuyContract-Stocks``; may be non-ASCII.
    :param direction: outflow or inflow; ``int(direction)`` is the API code.
    :param business_type: funding category, or ``None`` when the API omitted it.
    :param balance: signed amount, exact.
    :param currency: ``USD``, ``HKD``, ...
    :param business_time: timezone-aware UTC datetime.
    :param symbol: ``AAPL.US``, or ``None`` for pure cash flows.
    :param description: free text, possibly empty (the API may leave it out).

    The fields are in the API's order, which the fast decoder relies on for speed.
    """

    transaction_flow_name: str
    direction: Direction
    business_type: BusinessType | None
    balance: Decimal
    currency: str
    business_time: datetime
    symbol: str | None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the API's keys: codes as numbers, balance as its exact decimal text, time as
        ISO 8601 UTC."""
        return _to_dict(self)

    @property
    def epoch_seconds(self) -> int:
        return int(self.business_time.timestamp())


@dataclass(frozen=True)
class Field:
    """One field of :class:`CashFlow`, as its annotation declares it.

    :param name: the API's key.
    :param type: ``str``, ``Decimal``, ``datetime`` or a code enum (an ``IntEnum``).
    :param nullable: the record may hold ``None``.
    :param optional: the API may leave it out: it is nullable or has a default.
    """

    name: str
    type: type
    nullable: bool
    optional: bool

    @property
    def is_code(self) -> bool:
        return issubclass(self.type, IntEnum)


def fields_of(record: type[Any]) -> tuple[Field, ...]:
    """The :class:`Field` of each field of a record named tuple, in its order (US records use it too)."""
    hints = get_type_hints(record)
    fields = []
    for name in record._fields:
        members = get_args(hints[name])
        nullable = type(None) in members
        kind = next(m for m in members if m is not type(None)) if nullable else hints[name]
        fields.append(Field(name, kind, nullable, nullable or name in record._field_defaults))
    return tuple(fields)


FIELDS: tuple[Field, ...] = fields_of(CashFlow)
FIELD_NAMES: tuple[str, ...] = CashFlow._fields


def compile_per_record(source: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """A function that runs once per record, compiled from ``source`` built out of :data:`FIELDS`.

    Generated (as ``collections.namedtuple`` generates its methods) rather than a loop over the fields: a loop
    costs twice the one expression, on a path that handles hundreds of thousands of records a run.
    """
    return eval(source, namespace)  # type: ignore[no-any-return]


def _json_expression(field: Field) -> str:
    value = f"record.{field.name}"
    if field.is_code:
        expression = f"int({value})"
    elif field.type is Decimal:
        expression = f"str({value})"  # the exact decimal text; a JSON number would pass through a float
    elif field.type is datetime:
        expression = f"{value}.strftime('%Y-%m-%dT%H:%M:%SZ')"
    else:
        return value
    return f"None if {value} is None else {expression}" if field.nullable else expression


_to_dict: Callable[[CashFlow], dict[str, Any]] = compile_per_record(
    "lambda record: {" + ", ".join(f"{f.name!r}: {_json_expression(f)}" for f in FIELDS) + "}", {}
)


def _required(raw: Mapping[str, Any], name: str) -> Any:
    value = raw.get(name)
    if value is None:
        raise RecordError(f"cash flow record lacks required field {name!r}: {_preview(raw)}")
    return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise RecordError(f"field {name!r} must be an integer code, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        try:
            return int(value)
        except ValueError:  # "--5" or a non-ASCII digit such as "²" passes isdigit() but is no integer
            raise RecordError(f"field {name!r} must be an integer code, got {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():  # 2.0 in the JSON
        return int(value)
    raise RecordError(f"field {name!r} must be an integer code, got {value!r}")


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise RecordError(f"field 'balance' must be a decimal amount, got {value!r}")
    # A float in the JSON already lost digits in the decoder unless it was parsed as Decimal; repr()
    # still gives the shortest text that round-trips, which is what the server wrote.
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise RecordError(f"field 'balance' must be a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise RecordError(f"field 'balance' must be a finite amount, got {value!r}")
    return amount


def _as_time(value: Any) -> datetime:
    seconds = _as_int(value, "business_time")
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise RecordError(f"field 'business_time' must be Unix seconds within years 1-9999, got {value!r}") from None


def _preview(raw: Mapping[str, Any]) -> str:
    text = repr(dict(raw)) if isinstance(raw, Mapping) else repr(raw)
    return text if len(text) <= 300 else text[:297] + "..."


def parse_cash_flow(raw: Mapping[str, Any]) -> CashFlow:
    """Build a :class:`CashFlow` from one API record.

    Tolerates the documented type drift (codes as ``"1"`` or ``1``, balance as text or number, a missing
    ``business_type``, ``symbol`` null or empty) and raises :class:`RecordError` naming the field otherwise.
    Whole pages take :mod:`~airflow_provider_cashflow.client.page_decoder`'s fast path; this is the definition it
    is held to, and what decides every record that path passes on.
    """
    if not isinstance(raw, Mapping):
        raise RecordError(f"cash flow record must be a JSON object, got {type(raw).__name__}: {raw!r:.200}")
    business_type = raw.get("business_type")
    symbol = raw.get("symbol")
    description = raw.get("description")
    symbol = str(symbol) if symbol not in (None, "") else None
    return CashFlow(
        transaction_flow_name=str(_required(raw, "transaction_flow_name")),
        direction=Direction(_as_int(_required(raw, "direction"), "direction")),
        business_type=None if business_type in (None, "") else BusinessType(_as_int(business_type, "business_type")),
        balance=_as_decimal(_required(raw, "balance")),
        currency=str(_required(raw, "currency")),
        business_time=_as_time(_required(raw, "business_time")),
        symbol=symbol,
        description="" if description is None else str(description),
    )
