"""One run of the operator, planned: its parameters and the run's context checked and resolved in one place,
before any API call.

:func:`plan_run` turns the rendered parameters and the run's context into a :class:`Plan` (the query, the output
target, the XCom limit), or raises the error that says what to fix. :func:`check_literals` runs the same checks
when the DAG file is parsed, on every parameter that is not a Jinja template, so such a mistake shows as the DAG's
import error at once instead of failing a run; templated values keep their check at run time.

The window (:mod:`.run_window`) is widened by ``lookback``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.defaults import MAX_PAGE_SIZE, US_TIMEZONE
from airflow_provider_cashflow.domain.calendar import parse_lookback, resolve_timezone, widen
from airflow_provider_cashflow.domain.query import (
    CashFlowQuery,
    validate_business_type,
    validate_symbol,
)
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery, validate_currency, validate_types
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.operators.assets import account_path
from airflow_provider_cashflow.operators.lake import check_table, check_table_days, table_target
from airflow_provider_cashflow.operators.run_window import (
    check_both,
    check_timetable,
    explicit_window,
    partition_timezone,
    resolve_window,
    timetable_windows,
)
from airflow_provider_cashflow.operators.us_accounts import check_filters, columns_fields, validate_us_columns
from airflow_provider_cashflow.output.formats import resolve_compression, validate_row_group_size
from airflow_provider_cashflow.output.partitions import PARTITIONINGS
from airflow_provider_cashflow.output.storage import check_scheme
from airflow_provider_cashflow.output.writer import DATE_PLACEHOLDER, OutputSpec, check_date_window, check_day_path

if TYPE_CHECKING:
    from airflow_provider_cashflow.client.settings import LongPortSettings
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook
    from airflow_provider_cashflow.output.tables import TableTarget

__all__ = ["Parameters", "Plan", "check_literals", "is_deferred", "plan_run"]

_TEMPLATE_MARKERS = ("{{", "{%")
_PLAIN = (int, float, timedelta, datetime, date, tzinfo)


def is_deferred(value: Any) -> bool:
    """Whether ``value`` is known only at run time: Jinja text, or a reference Airflow resolves then (an
    ``XComArg``, a mapped argument). Plain values (``None``, text, numbers, times, and lists or tuples of them)
    are judged at once."""
    if isinstance(value, str):
        return any(marker in value for marker in _TEMPLATE_MARKERS)
    if isinstance(value, list | tuple):  # Airflow renders the templates inside a list, and only those
        return any(is_deferred(item) for item in value)
    return not (value is None or isinstance(value, _PLAIN))


@dataclass(frozen=True)
class Parameters:
    """The operator's parameters as given (at parse time) or rendered (at run time); see ``CashflowOperator``."""

    longport_conn_id: Any
    business_type: Any
    symbol: Any
    types: Any
    currency: Any
    us_columns: Any
    page_size: Any
    output_path: Any
    output_conn_id: Any
    file_format: Any
    compression: Any
    partition_by: Any
    partition_timezone: Any
    lookback: Any
    write_empty: Any
    window_start: Any
    window_end: Any
    max_xcom_bytes: Any
    parquet_row_group_size: Any
    table: Any = None

    @classmethod
    def of(cls, source: Any) -> Parameters:
        """The parameters held by an operator (or any object with these attributes)."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Plan:
    """What a run does, every part of it already checked.

    :param query: the API query (a US account's: its endpoint's); its window is the run's window widened by the
        lookback.
    :param output: where the files go, or ``None`` for XCom.
    :param lookback: how far before the run's window it re-reads, or ``None``.
    :param max_xcom_bytes: the XCom size limit (``None``: none).
    :param settings: the connection's settings, read and checked.
    :param complete: whether the window had ended when the run was planned; if not, later records of it are
        not in this output.
    :param table: the lake table the run commits to (``table=``), or ``None``.
    """

    query: CashFlowQuery | UsHistoryQuery
    output: OutputSpec | None
    lookback: timedelta | None
    max_xcom_bytes: int | None
    settings: LongPortSettings
    complete: bool
    us_columns: str = "cashflow"
    table: TableTarget | None = None

    @property
    def window(self) -> Window:
        return self.query.window


def plan_run(params: Parameters, context: Any, timetable: Any, hook: CashflowHook) -> Plan:
    """Every check of the run, in one place, before any call: window, query, time zone, output target, lookback,
    then the connection (read, not called) and the output target's folder.

    :param timetable: the DAG's timetable, or ``None`` for a task outside a DAG.
    :param hook: the hook whose connection the run uses.
    """
    window = resolve_window(context, params.window_start, params.window_end, timetable)
    for name, check in _ALONE:
        check(getattr(params, name))
    lookback = parse_lookback(params.lookback)
    us_columns = validate_us_columns(params.us_columns)
    tz = partition_timezone(params.partition_timezone, timetable)
    table = table_target(params.table, params.output_path, params.output_conn_id)
    output = _output_spec(params, tz, lookback)
    settings = hook.settings  # reads and checks the connection: it says whether the account is AP or US
    region = settings.dc_region
    check_filters(settings.conn_id, region, params.business_type, params.symbol, params.types, params.currency)
    if region == "us":  # a US account's days are New York's, unless the operator or the timetable names a zone
        tz = partition_timezone(params.partition_timezone, timetable, US_TIMEZONE)
    if output is not None:
        output = replace(output, timezone=tz, fields=columns_fields(region, us_columns))
    if table is not None:
        table = replace(table, timezone=tz, fields=columns_fields(region, us_columns))
    if (output is not None or table is not None) and lookback is not None:
        window = Window(widen(window.start, lookback, tz), window.end)
    page_size = _page_size(params.page_size)
    query: CashFlowQuery | UsHistoryQuery = (
        UsHistoryQuery.of(window, types=params.types, currency=params.currency, page_size=page_size)
        if region == "us"
        else CashFlowQuery.of(window, business_type=params.business_type, symbol=params.symbol, page_size=page_size)
    )
    max_xcom_bytes = _max_xcom_bytes(params.max_xcom_bytes)
    if output is not None:
        output.check(window)
    if table is not None:
        check_table(table, window)
    complete = window.end <= datetime.now(UTC)
    return Plan(query, output, lookback, max_xcom_bytes, settings, complete, us_columns, table)


def check_literals(params: Parameters, timetable: Any = None) -> None:
    """The checks of :func:`plan_run` that need neither the run's context nor a rendered template, on every
    parameter that is known now; each raises the message the run would.

    :param timetable: the DAG's timetable if the operator is built inside one, else ``None``.
    """
    known = {f.name: getattr(params, f.name) for f in fields(params) if not is_deferred(getattr(params, f.name))}

    def given(*names: str) -> bool:
        return all(name in known for name in names)

    if params.window_start is None and params.window_end is None:
        check_timetable(timetable)
    elif given("window_start", "window_end"):
        explicit_window(params.window_start, params.window_end)
    else:  # a template is not None either: whether both are given is known now
        check_both(params.window_start, params.window_end)
    if given("file_format"):
        resolve_compression(params.file_format, params.compression if given("compression") else None)
    if given("partition_by"):
        _check_partitioning(params.partition_by)
    lookback = parse_lookback(params.lookback) if given("lookback") else None
    path = params.output_path if given("output_path") else "{{ output_path }}"  # rendered later: some path
    if given("table") and params.table:
        table_target(params.table, params.output_path if given("output_path") else None, None)
    if given("partition_by"):
        if lookback is not None and not params.table:  # a table is always partitioned by day
            _check_lookback(params.lookback, params.partition_by, path)
        _check_day_files(params.partition_by, path or params.table)  # a table is partitioned by day
        if given("output_path") and path:
            check_day_path(params.partition_by, path)
    if given("output_path") and path:
        check_scheme(path)
    if given("partition_timezone") and params.partition_timezone not in (None, ""):
        resolve_timezone(params.partition_timezone)
    if given("output_path", "partition_by", "partition_timezone") and path and not params.table:
        _check_date_windows(params, timetable)
    if given("table", "partition_timezone") and params.table and params.window_start is None:
        check_table_days(timetable_windows(timetable), partition_timezone(params.partition_timezone, timetable))
    for name, check in _ALONE:
        if given(name):
            check(getattr(params, name))


def _check_date_windows(params: Parameters, timetable: Any) -> None:
    """A ``{date}`` file of a window longer than a day, where the window is known now: given literally, or by the
    schedule (each of a year's runs, which a weekly or monthly schedule fails on its first)."""
    if DATE_PLACEHOLDER not in params.output_path or params.partition_by != "interval":
        return
    tz = partition_timezone(params.partition_timezone, timetable)
    if params.window_start is not None and params.window_end is not None:
        if not (is_deferred(params.window_start) or is_deferred(params.window_end)):
            check_date_window(
                params.output_path, params.partition_by, explicit_window(params.window_start, params.window_end), tz
            )
        return
    for window in timetable_windows(timetable):
        check_date_window(params.output_path, params.partition_by, window, tz)


# The output --------------------------------------------------------------------------------------------------


def _output_spec(params: Parameters, tz: ZoneInfo, lookback: timedelta | None) -> OutputSpec | None:
    row_group_size = validate_row_group_size(params.parquet_row_group_size)
    compression = resolve_compression(params.file_format, params.compression)
    _check_partitioning(params.partition_by)
    if lookback is not None and not params.table:
        _check_lookback(params.lookback, params.partition_by, params.output_path)
    _check_day_files(params.partition_by, params.output_path or params.table)
    if not params.output_path:
        return None
    check_scheme(params.output_path)
    return OutputSpec(
        path=account_path(params.output_path, params.longport_conn_id),
        conn_id=params.output_conn_id or None,
        file_format=params.file_format,
        compression=compression,
        partition_by=params.partition_by,
        write_empty=params.write_empty,
        row_group_size=row_group_size,
        timezone=tz,
        compare=lookback is not None,
    )


def _check_partitioning(partition_by: Any) -> None:
    if partition_by not in PARTITIONINGS:
        raise LongPortConfigError(f"partition_by must be one of {', '.join(PARTITIONINGS)}, got {partition_by!r}")


def _check_lookback(lookback: Any, partition_by: Any, output_path: Any) -> None:
    if partition_by != "day" or not output_path:
        raise LongPortConfigError(
            f"lookback={lookback!r} re-reads past days and rewrites their files, so it needs "
            f"partition_by='day' and an output_path with {{date}}; got partition_by={partition_by!r}, "
            f"output_path={output_path!r}"
        )


def _check_day_files(partition_by: Any, output_path: Any) -> None:
    if not output_path and partition_by != "interval":
        raise LongPortConfigError("partition_by='day' needs output_path: XCom holds one value per run")


def _check_page_size(value: Any) -> None:
    """A positive integer: the upper bound is the account's region's (the AP endpoint's, or none known for the US
    one), checked at run time, when the connection says which."""
    value = _page_size(value)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise LongPortConfigError(
            f"page_size must be a whole number of 1 or more (at most {MAX_PAGE_SIZE} for an AP account), got {value!r}"
        )


def _page_size(page_size: Any) -> Any:
    # a templated page_size arrives as text; digits are the number it was rendered from
    if isinstance(page_size, str) and page_size.isdigit():
        return int(page_size)
    return page_size


def _max_xcom_bytes(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise LongPortConfigError(
            f"max_xcom_bytes must be a whole number of bytes of 1 or more, or None for no limit, got {value!r}"
        )
    return value


# The parameters checked each alone, by both the parse-time and the run-time checks.
_ALONE: tuple[tuple[str, Callable[[Any], object]], ...] = (
    ("page_size", _check_page_size),
    ("business_type", validate_business_type),
    ("symbol", validate_symbol),
    ("types", validate_types),
    ("currency", validate_currency),
    ("us_columns", validate_us_columns),
    ("max_xcom_bytes", _max_xcom_bytes),
    ("parquet_row_group_size", validate_row_group_size),
)
