"""Airflow operator: one data interval of LongPort cash flows to XCom or to object storage."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from jinja2 import TemplateError, TemplateSyntaxError

from airflow_provider_cashflow.compat import AirflowFailException
from airflow_provider_cashflow.defaults import CASHFLOW_PATH, GLOBAL_BASE_URL, PARQUET_ROW_GROUP_SIZE, US_HISTORY_PATH
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.errors import LongPortConfigError, LongPortError, OutputFormatError, OutputStorageError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.hooks.no_retry import no_retry
from airflow_provider_cashflow.operators.assets import default_outlet, emit_asset_events
from airflow_provider_cashflow.operators.lake import table_asset, table_dataset, write_table
from airflow_provider_cashflow.operators.plan import Parameters, Plan, check_literals, plan_run
from airflow_provider_cashflow.operators.retry_policy import default_retry_policy
from airflow_provider_cashflow.operators.us_accounts import us_parts
from airflow_provider_cashflow.output.manifest import Manifest
from airflow_provider_cashflow.output.tables import TableCommit
from airflow_provider_cashflow.output.writer import write_parts, write_window

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["CashflowOperator"]

_PARAMETERS = [f.name for f in fields(Parameters)]
_UNKNOWN = object()  # a parameter partial() was not given: perhaps mapped, judged at run time


class CashflowOperator(BaseOperator):
    """Extracts the cash flows of the run's data interval ``[start, end)`` to XCom or object storage.

    An AP account reads ``GET /v1/asset/cashflow``, a US account ``POST /v1/us/assets/transaction-history``: the
    connection says which (docs/us-accounts.md), so one task can be mapped over both kinds of account.

    :param longport_conn_id: connection of type ``longport``. (templated)
    :param business_type: AP accounts: 1 cash, 2 stock, 3 fund, or ``None`` for all. (templated)
    :param symbol: AP accounts: one security code, e.g. ``AAPL.US``. (templated)
    :param types: US accounts: ``TT_...`` kinds, e.g. ``["TT_DEPOSIT_AND_WITHDRAWAL"]``, or ``None`` for all.
        (templated)
    :param currency: US accounts: one currency, e.g. ``USD``, or ``None`` for all. (templated)
    :param us_columns: US accounts: ``cashflow`` (default: mapped onto the AP cash-flow columns, so both kinds of
        account land in one table) or ``native`` (every key the US endpoint sends). (templated)
    :param page_size: records per API call; AP 1 to 10000, default 10000; US the largest page asked, default
        10000 (its maximum is undocumented: a smaller one the server refuses or serves is learnt). (templated)
    :param output_path: ``ObjectStoragePath`` URL (``file://``, ``s3://``, ``gs://``, ...); ``{date}`` is
        replaced by the partition's local date in ``partition_timezone`` (one local day: a longer window needs
        ``partition_by="day"``), ``{conn_id}`` by ``longport_conn_id`` (write ``account={conn_id}`` for one folder
        per account that readers see as a column). ``None`` returns the records as XCom. (templated)
    :param output_conn_id: connection for the storage (e.g. ``aws_default``). (templated)
    :param file_format: ``jsonl`` (default), ``csv`` or ``parquet``. (templated)
    :param compression: ``none``/``gzip`` for jsonl and csv; ``none``/``snappy``/``gzip``/``zstd`` for
        parquet; ``None`` picks the format's default (none; snappy). (templated)
    :param partition_by: ``interval`` (one file for the run) or ``day`` (one file per local day of
        ``partition_timezone``, for long backfills in few API calls). (templated)
    :param partition_timezone: IANA name of the zone whose days partition the files and name ``{date}``;
        default: the time zone of the DAG's timetable, else UTC (a US account: America/New_York). A window that would leave part of a day to
        another run is refused before any API call. (templated)
    :param lookback: a ``timedelta`` or a number of days: each run re-reads ``[start - lookback, end)`` and
        rewrites every day file in it, so late postings and revised records reach the files; needs
        ``partition_by="day"``. Default: none.
    :param write_empty: write a valid empty file when there are no records (default True).
    :param window_start: explicit window start instead of the data interval. (templated)
    :param window_end: explicit window end. (templated)
    :param max_xcom_bytes: fail instead of pushing a larger XCom (``None``: no limit, e.g. with the object
        storage XCom backend).
    :param parquet_row_group_size: records per Parquet row group.
    :param table: a lake table instead of files: ``iceberg:<namespace>.<table>`` (its catalog from the connection
        ``output_conn_id``, type ``iceberg``, default ``iceberg_default``) or ``delta:<url>`` (``file://``,
        ``s3://``; ``output_conn_id`` the storage's). Each run replaces its account's rows of its window's local days
        (widened by ``lookback``) in one commit; see docs/lake-tables.md. (templated)

    On Airflow >= 3.3 its ``retry_policy`` defaults to
    :func:`~airflow_provider_cashflow.operators.retry_policy.longport_retry_policy` (pass your own to replace it).
    """

    template_fields: Sequence[str] = (
        "longport_conn_id",
        "business_type",
        "symbol",
        "types",
        "currency",
        "us_columns",
        "page_size",
        "output_path",
        "output_conn_id",
        "file_format",
        "compression",
        "partition_by",
        "partition_timezone",
        "window_start",
        "window_end",
        "table",
    )
    ui_color = "#ffd6a5"

    def __init__(
        self,
        *,
        longport_conn_id: str = CashflowHook.default_conn_name,
        business_type: int | str | None = None,
        symbol: str | None = None,
        types: str | Sequence[str] | None = None,
        currency: str | None = None,
        us_columns: str = "cashflow",
        page_size: int | str | None = None,
        output_path: str | None = None,
        output_conn_id: str | None = None,
        file_format: str = "jsonl",
        compression: str | None = None,
        partition_by: str = "interval",
        partition_timezone: str | None = None,
        lookback: timedelta | int | None = None,
        write_empty: bool = True,
        window_start: datetime | str | None = None,
        window_end: datetime | str | None = None,
        max_xcom_bytes: int | None = 1_000_000,
        parquet_row_group_size: int = PARQUET_ROW_GROUP_SIZE,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        default_retry_policy(kwargs)
        _default_outlets(output_path, kwargs, table)
        super().__init__(**kwargs)
        self.longport_conn_id = longport_conn_id
        self.business_type = business_type
        self.symbol = symbol
        self.types = types
        self.currency = currency
        self.us_columns = us_columns
        self.page_size = page_size
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.file_format = file_format
        self.compression = compression
        self.partition_by = partition_by
        self.partition_timezone = partition_timezone
        self.lookback = lookback
        self.write_empty = write_empty
        self.window_start = window_start
        self.window_end = window_end
        self.max_xcom_bytes = max_xcom_bytes
        self.parquet_row_group_size = parquet_row_group_size
        self.table = table
        self._written: list[str] = []
        self._table: TableCommit | None = None
        self._base_url: str | None = None
        self._api_path = CASHFLOW_PATH
        # literal mistakes show as the DAG file's import error, before any run; templates are checked when run
        check_literals(Parameters.of(self), self._timetable({}))

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """As ``BaseOperator.partial``; a mapped task gets the same default outlet as a plain one, and shows
        each mapped instance under its connection id. The parameters given here are checked now, as in
        ``__init__`` (the mapped ones, at run time)."""
        given = {name: kwargs.get(name, _UNKNOWN) for name in _PARAMETERS}
        check_literals(Parameters(**given))
        _default_outlets(kwargs.get("output_path"), kwargs, kwargs.get("table"))
        kwargs.setdefault("map_index_template", "{{ task.longport_conn_id }}")
        return super().partial(**kwargs)

    def _do_render_template_fields(
        self, parent: Any, template_fields: Iterable[str], context: Context, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        """Airflow's rendering, field by field, where a template that cannot render (an undefined name, a syntax
        error) fails the task at once, naming the field: it renders the same way on every try.

        Airflow renders before ``execute`` (the mapped and the plain task both through this method), so the
        operator's own no-retry rule would not see the error.
        """
        for name in template_fields:
            try:
                super()._do_render_template_fields(parent, (name,), context, jinja_env, seen_oids)
            except TemplateError as error:
                raise no_retry(_template_error(name, error)) from error

    def execute(self, context: Context) -> Any:
        try:
            return self._run(context)
        except LongPortError as error:
            if error.retryable:
                error.add_note(f"connection {self.longport_conn_id!r}")
                raise  # Airflow's task retries may cure it
            # a task retry would fail the same way; the connection id says which account, when a task maps over several
            raise AirflowFailException(self._for_account(error)) from error

    def _for_account(self, error: LongPortError) -> str:
        """The error's text; one about the account's calls or data is prefixed with the connection, one about the
        operator's parameters or the output (which every account shares) is not."""
        text = str(error)
        if (
            isinstance(error, (LongPortConfigError, OutputFormatError, OutputStorageError))
            or repr(self.longport_conn_id) in text
        ):
            return text
        return f"connection {self.longport_conn_id!r}: {text}"

    def _run(self, context: Context) -> Any:
        hook = CashflowHook(self.longport_conn_id)
        try:
            plan = plan_run(Parameters.of(self), context, self._timetable(context), hook)
            self._base_url = plan.settings.base_url
            if not plan.complete:
                self.log.warning(
                    "the window %s ends in the future (now is %s): records after now are not written, and the "
                    'manifest says "complete": false; run this interval again once it has ended to get all of it',
                    plan.window,
                    datetime.now(UTC).isoformat(),
                )
            if plan.table is not None:  # a lake table: the whole window in one commit (operators/lake.py)
                return self._to_table(hook, plan, context)
            if isinstance(plan.query, UsHistoryQuery):  # a US account: its own endpoint, one read per day file
                self._api_path = US_HISTORY_PATH
                parts = us_parts(hook, plan.query, plan.output, plan.us_columns)
                if plan.output is None:
                    return self._to_xcom((record for _, part in parts for record in part), plan)
                written = write_parts(parts, plan.output)
            else:
                records = hook.iter_query(plan.query)
                try:
                    if plan.output is None:
                        return self._to_xcom(records, plan)
                    written = write_window(records, plan.window, plan.output)
                finally:
                    records.close()  # a failure half-way must not leave the pager running on a closed session
        finally:
            hook.close()
        manifest = Manifest(
            query=plan.query,
            file_format=plan.output.file_format,
            compression=plan.output.compression,
            partition_by=plan.output.partition_by,
            partition_timezone=plan.output.timezone,
            files=written.files,
            records=written.records,
            bytes=written.bytes,
            rewritten=written.rewritten,
            api_calls=hook.client.stats.calls,
            complete=plan.complete,
        )
        self._written = [entry.path for entry in manifest.files]
        self.log.info("%s", manifest.summary())
        if context.get("outlet_events") is not None:
            emit_asset_events(
                list(self.outlets or []),
                context["outlet_events"],
                plan.output.path,
                manifest,
                context.get("partition_key"),
            )
        return manifest.to_dict()

    def _timetable(self, context: Any) -> Any:
        dag = context.get("dag") or self.get_dag()  # a task outside a DAG has no timetable
        return getattr(dag, "timetable", None)

    def _to_table(self, hook: CashflowHook, plan: Plan, context: Context) -> dict[str, Any]:
        if isinstance(plan.query, UsHistoryQuery):
            self._api_path = US_HISTORY_PATH
        assert plan.table is not None
        manifest = write_table(hook, plan.query, plan.table, plan.us_columns, plan.complete)
        assert manifest.table is not None
        self._table = manifest.table
        self.log.info("%s", manifest.summary())
        if context.get("outlet_events") is not None:
            emit_asset_events(
                list(self.outlets or []), context["outlet_events"], "", manifest, context.get("partition_key")
            )
        return manifest.to_dict()

    def _to_xcom(self, records: Any, plan: Plan) -> list[dict[str, Any]]:
        window, limit = plan.window, plan.max_xcom_bytes
        rows: list[dict[str, Any]] = []
        size = 2
        for record in records:
            row = record.to_dict()
            size += len(json.dumps(row, ensure_ascii=False).encode("utf-8")) + 1
            if limit is not None and size > limit:
                raise LongPortConfigError(
                    f"the cash flows of {window} exceed max_xcom_bytes={limit} after {len(rows)} "
                    "records; large XComs stall the scheduler: set output_path to write them to object storage "
                    "(the XCom is then a small manifest), or configure the common-io XComObjectStorageBackend "
                    "and set max_xcom_bytes=None"
                )
            rows.append(row)
        self.log.info("returning %d records of %s as XCom", len(rows), window)
        return rows

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """LongPort as input, the written files as outputs; ``None`` without the openlineage provider."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        from urllib.parse import urlsplit

        host = urlsplit(self._base_url or GLOBAL_BASE_URL).netloc
        outputs = []
        for path in self._written:
            parts = urlsplit(path)
            outputs.append(Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path))
        if self._table is not None:  # the snapshot or version this run committed
            outputs = [table_dataset(self._table)]
        return OperatorLineage(inputs=[Dataset(namespace=f"longport://{host}", name=self._api_path)], outputs=outputs)


def _template_error(field: str, error: Exception) -> LongPortConfigError:
    line = getattr(error, "lineno", None)
    where = f" (line {line})" if isinstance(error, TemplateSyntaxError) and line else ""
    return LongPortConfigError(
        f"the template of {field} does not render: {type(error).__name__}{where}: {error}; fix it in the DAG file "
        "(a retry would render it the same way). The names a template can use: "
        "https://airflow.apache.org/docs/apache-airflow/stable/templates-ref.html"
    )


def _default_outlets(output_path: str | None, kwargs: dict[str, Any], table: str | None = None) -> None:
    if (output_path or table) and "outlets" not in kwargs:
        outlet = default_outlet(output_path) if output_path else table_asset(table)
        if outlet is not None:
            kwargs["outlets"] = [outlet]
