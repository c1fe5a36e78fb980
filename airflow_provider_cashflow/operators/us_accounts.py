"""What the operator does differently for a US account: its filters, its columns, and its day files read one
query per day.

The US endpoint does not say which of ``create_at`` and ``done_at`` its window filters on, nor in which order it
answers. A record's day is therefore the day whose own read returned it (see
:meth:`~airflow_provider_cashflow.client.us_history.UsHistoryEndpoint.iter_days`), never a day computed from one of
its times; inside a file, records are sorted so that the same records give the same bytes whatever the order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_cashflow.domain.models import FIELDS, Field
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import US_FIELDS, UsTransaction, to_cash_flow
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.output.formats import Record
from airflow_provider_cashflow.output.writer import OutputSpec

if TYPE_CHECKING:
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

__all__ = ["US_COLUMNS", "check_filters", "columns_fields", "us_parts", "validate_us_columns"]

US_COLUMNS = ("cashflow", "native")


def validate_us_columns(value: Any) -> str:
    """``cashflow`` (the AP columns, so AP and US accounts share one table) or ``native`` (every US key)."""
    if value not in US_COLUMNS:
        raise LongPortConfigError(
            f"us_columns must be 'cashflow' (a US account's records mapped onto the cash-flow columns, one table with "
            f"AP accounts) or 'native' (every key the US endpoint sends), got {value!r}"
        )
    return str(value)


def columns_fields(region: str, us_columns: str) -> tuple[Field, ...]:
    """The columns a run of an account of ``region`` writes."""
    return US_FIELDS if region == "us" and us_columns == "native" else FIELDS


def check_filters(conn_id: str, region: str, business_type: Any, symbol: Any, types: Any, currency: Any) -> None:
    """Refuse, before any call, a filter the account's endpoint does not take: silently dropping it would write
    records the user asked to leave out."""
    if region == "us" and (business_type not in (None, "") or symbol not in (None, "")):
        raise LongPortConfigError(
            f"connection {conn_id!r} is a US-region account, whose endpoint filters by types and currency; "
            f"business_type={business_type!r} and symbol={symbol!r} filter the AP endpoint only. In a task mapped over "
            "AP and US accounts, give each its filters with expand_kwargs"
        )
    if region == "ap" and (types not in (None, "", []) or currency not in (None, "")):
        raise LongPortConfigError(
            f"connection {conn_id!r} is an AP-region account, whose endpoint filters by business_type and symbol; "
            f"types={types!r} and currency={currency!r} filter the US endpoint only. In a task mapped over AP and US "
            "accounts, give each its filters with expand_kwargs"
        )


def _moment(record: Any, time_field: str | None) -> float:
    if isinstance(record, UsTransaction):
        chosen = getattr(record, time_field) if time_field else None
        moment: datetime | None = chosen or record.done_at or record.create_at
    else:
        moment = record.business_time
    return moment.timestamp() if moment is not None else float("-inf")


def _ordered(
    hook: CashflowHook, records: Iterable[UsTransaction], convert: Callable[[UsTransaction, str | None], Record]
) -> Iterator[Record]:
    """Newest first, ties by content: one order for the same records, whatever order the server sent them in.

    The records are read whole first, so that the time the server filters on is known (learnt from the answers)
    when they are converted: it is each row's ``business_time``, which then falls on the day of its file.
    """
    read = list(records)
    time_field = hook.client.us_history.time_field
    rows = [convert(record, time_field) for record in read]

    def key(row: Record) -> tuple[float, str]:
        return (-_moment(row, time_field), json.dumps(row.to_dict(), ensure_ascii=False, sort_keys=True))

    yield from sorted(rows, key=key)


def us_parts(
    hook: CashflowHook, query: UsHistoryQuery, output: OutputSpec | None, us_columns: str
) -> Iterator[tuple[Window, Iterator[Record]]]:
    """``(part, records of part)`` of a US account's run, newest part first, in the chosen columns.

    With day files each local day of the output's time zone is read by its own query (DST days are 23 or 25
    hours); XCom and interval files read the whole window as one.
    A part is read when the writer reaches it, so a failure leaves the parts already written whole.
    """
    convert: Callable[[UsTransaction, str | None], Record] = (
        to_cash_flow if us_columns == "cashflow" else (lambda record, _: record)
    )
    if output is not None and output.partition_by == "day":
        for day, records in hook.iter_us_days(query, output.timezone):
            yield day, _ordered(hook, records, convert)
    else:
        yield query.window, _ordered(hook, hook.iter_us_query(query), convert)
