"""The operator's lake-table target (``table=``): a run's window, its records cut into local days, checked and
committed to an Iceberg or a Delta table in one commit, and the manifest that names the commit.

The files target writes day by day; a table run holds the window's records (newest first, as read) until they are
all in, then commits once, so a failed or killed run commits nothing and a reader never sees half a window.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from airflow_provider_cashflow.compat import AirflowNotFoundException
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import to_cash_flow
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.output.formats import Record
from airflow_provider_cashflow.output.iceberg_table import DEFAULT_CATALOG_CONN
from airflow_provider_cashflow.output.manifest import Manifest
from airflow_provider_cashflow.output.partitions import split
from airflow_provider_cashflow.output.tables import (
    TableCommit,
    TableTarget,
    check_rows,
    check_whole_days,
    parse_table,
    require,
    to_arrow,
)

if TYPE_CHECKING:
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

__all__ = ["check_table", "check_table_days", "table_asset", "table_dataset", "table_target", "write_table"]

# the Parquet codec each library writes data files with by default
_COMPRESSION = {"iceberg": "zstd", "delta": "snappy"}


def table_target(table: Any, output_path: Any, output_conn_id: Any) -> TableTarget | None:
    """The rendered ``table=`` as a target, with its connection (``output_conn_id``); ``None`` without one."""
    if not table:
        return None
    return replace(parse_table(table, output_path), conn_id=output_conn_id or None)


def check_table(target: TableTarget, window: Window) -> None:
    """What can fail before the first API call: the library, whole days, and the catalog or storage connection."""
    require(target.format)
    check_whole_days(window, target.timezone)
    if target.format == "iceberg":
        catalog(target.conn_id)  # a missing connection or catalog driver says so now
    else:
        storage_options(target)


def check_table_days(windows: Iterable[Window], tz: ZoneInfo) -> None:
    """Each of the schedule's windows (known when the DAG is parsed) is whole local days, as a table run needs."""
    for window in windows:
        check_whole_days(window, tz)


def catalog(conn_id: str | None) -> Any:
    """The pyiceberg catalog of an ``iceberg`` connection, named after it (a SQL catalog scopes its tables by that
    name), through the apache-iceberg provider's ``IcebergHook``."""
    from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

    name = conn_id or DEFAULT_CATALOG_CONN
    try:
        return IcebergHook(name).catalog
    except AirflowNotFoundException:
        raise LongPortConfigError(
            f"table='iceberg:...' reads its catalog from the connection {name!r}, which does not exist: add a connection "
            'of type iceberg, e.g. extra {"type": "sql", "uri": "sqlite:////data/lake/catalog.db", "warehouse": '
            '"file:///data/lake/warehouse"}, or name yours in output_conn_id'
        ) from None
    except ImportError as error:  # pyiceberg without the catalog's driver says "SQLAlchemy support not installed"
        raise LongPortConfigError(
            f"the Iceberg catalog of connection {name!r} needs a driver that is not installed ({error}): "
            "pip install 'pyiceberg[sql-sqlite]' (or sql-postgres)"
        ) from None


def storage_options(target: TableTarget) -> dict[str, str]:
    """deltalake's options for the table's storage: on S3, the credentials, region and endpoint of the Airflow
    ``aws`` connection (``aws_default`` when none is named); a local table needs none."""
    scheme = urlsplit(target.name).scheme
    if scheme not in ("s3", "s3a"):
        return {}
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=target.conn_id or "aws_default", client_type="s3")
    credentials = hook.get_credentials()
    options = {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
    if credentials.token:
        options["AWS_SESSION_TOKEN"] = credentials.token
    region = hook.conn_region_name or hook.conn_config.region_name
    options["AWS_REGION"] = region or "us-east-1"
    endpoint = hook.conn_config.endpoint_url
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def _parts(
    hook: CashflowHook, query: CashFlowQuery | UsHistoryQuery, us_columns: str, tz: ZoneInfo
) -> Iterator[tuple[Window, Iterable[Record]]]:
    if isinstance(query, UsHistoryQuery):  # a US record's day is the day whose own read returned it
        native = us_columns == "native"
        for day, entries in hook.iter_us_days(query, tz):
            endpoint = hook.client.us_history  # business_time: the time the server filters on, learnt by now
            yield day, (entries if native else (to_cash_flow(e, endpoint.time_field) for e in entries))
        return
    records = hook.iter_query(query)
    try:
        yield from split(query.window, records, "day", tz)
    finally:
        records.close()  # a failure half-way must not leave the pager running on a closed session


def write_table(
    hook: CashflowHook, query: CashFlowQuery | UsHistoryQuery, target: TableTarget, us_columns: str, complete: bool
) -> Manifest:
    """Read the query's window, check every row against it, commit once; the manifest names the table and the
    commit.

    :param complete: whether the window had ended when the run began.
    """
    account, tz, window = hook.longport_conn_id, target.timezone, query.window
    data = to_arrow(_parts(hook, query, us_columns, tz), account, tz, target.fields)
    check_rows(data, account, window, tz, times=not isinstance(query, UsHistoryQuery))
    run = uuid.uuid4().hex
    commit: TableCommit
    if target.format == "iceberg":
        from airflow_provider_cashflow.output.iceberg_table import commit_iceberg

        commit = commit_iceberg(data, catalog(target.conn_id), target, window, tz, account, run)
    else:
        from airflow_provider_cashflow.output.delta_table import commit_delta

        commit = commit_delta(data, target, storage_options(target), window, tz, account, run)
    return Manifest(
        query=query,
        file_format=target.format,
        compression=_COMPRESSION[target.format],
        partition_by="day",
        partition_timezone=tz,
        files=(),
        records=commit.records,
        bytes=commit.bytes,
        rewritten=None,
        api_calls=hook.client.stats.calls,
        complete=complete,
        table=commit,
    )


def table_asset(table: Any) -> Any:
    """The asset a table target is, known when the DAG is parsed: ``iceberg://<namespace>/<table>`` or the Delta
    table's URL; ``None`` for a template (and for a mistake, which the parameter check reports)."""
    if not isinstance(table, str) or "{{" in table or "{%" in table:
        return None
    try:
        target = parse_table(table)
    except LongPortConfigError:
        return None
    from airflow.sdk import Asset

    namespace, _, name = target.name.rpartition(".")
    uri = f"iceberg://{namespace}/{name}" if target.format == "iceberg" else target.name.rstrip("/")
    return Asset(uri=uri, name=f"longport_cashflow:{target}")


def table_dataset(commit: TableCommit) -> Any:
    """The OpenLineage output dataset of a table run: the table's location, its catalog name as a symlink, and
    the snapshot id or version the run committed."""
    from urllib.parse import urlsplit

    from airflow.providers.common.compat.openlineage.facet import Dataset, Identifier, SymlinksDatasetFacet
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    parts = urlsplit(commit.location)
    version = commit.snapshot_id if commit.format == "iceberg" else commit.version
    facets: dict[str, Any] = {"version": DatasetVersionDatasetFacet(datasetVersion=str(version))}
    if commit.format == "iceberg":
        facets["symlinks"] = SymlinksDatasetFacet(
            identifiers=[Identifier(namespace=f"iceberg://{commit.catalog}", name=commit.name, type="TABLE")]
        )
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path, facets=facets)
