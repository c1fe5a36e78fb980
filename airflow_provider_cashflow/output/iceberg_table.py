"""A run's window into an Apache Iceberg table: one catalog commit, through pyiceberg (the operator builds the
catalog from an Airflow connection of type ``iceberg``, through the apache-iceberg provider's ``IcebergHook``).

The commit is ``Table.overwrite`` with a filter on the run's account and days: pyiceberg deletes those rows and
appends the new ones in one transaction, which the catalog accepts or refuses whole. The transaction holds two
snapshots (the delete, then the append); readers of the current table never see the first, and the manifest
names the second. Writers of other accounts commit at the same time: a refused commit is retried on the fresh
table, and a writer of the same account and days fails instead of duplicating rows.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import OutputFormatError
from airflow_provider_cashflow.output.tables import ACCOUNT, DATE, TableCommit, TableTarget, days_of

__all__ = ["DEFAULT_CATALOG_CONN", "commit_iceberg"]

log = logging.getLogger(__name__)
DEFAULT_CATALOG_CONN = "iceberg_default"
# pyiceberg retries a refused commit 4 times by default: 2 of 8 concurrent writers ran out of them (lake-tables.md)
TABLE_PROPERTIES = {
    "commit.retry.num-retries": "30",
    "commit.retry.min-wait-ms": "20",
    "commit.retry.max-wait-ms": "1000",
    "commit.retry.total-timeout-ms": "600000",
}
_RELOADS = 10  # a transaction that failed cannot be committed again: reload the table and build the write anew


def _iceberg_schema(schema: Any) -> tuple[Any, Any]:
    """The Iceberg schema of the Arrow one (ids in column order) and its partition spec: identity on account and
    date, so a run's overwrite drops whole partitions of its own account and local days."""
    from pyiceberg.io.pyarrow import pyarrow_to_schema
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    with_ids = schema.with_metadata(None)
    for index, name in enumerate(schema.names):
        field = with_ids.field(name).with_metadata({b"PARQUET:field_id": str(index + 1).encode()})
        with_ids = with_ids.set(index, field)
    iceberg = pyarrow_to_schema(with_ids)
    spec = PartitionSpec(
        *(
            PartitionField(
                source_id=iceberg.find_field(name).field_id, field_id=1000 + i, transform=IdentityTransform(), name=name
            )
            for i, name in enumerate((ACCOUNT, DATE))
        )
    )
    return iceberg, spec


def load_or_create(cat: Any, name: str, schema: Any) -> Any:
    """The table, created with the schema and the partition spec if it does not exist yet (by any writer)."""
    namespace = name.rsplit(".", 1)[0]
    try:
        cat.create_namespace_if_not_exists(namespace)
    except Exception:
        # another writer created it between pyiceberg's look and its insert: a SQL catalog then reports the
        # unique key it broke (IntegrityError), not that the namespace exists
        if not cat.namespace_exists(namespace):
            raise
    iceberg, spec = _iceberg_schema(schema)
    try:
        return cat.create_table_if_not_exists(name, schema=iceberg, partition_spec=spec, properties=TABLE_PROPERTIES)
    except Exception:
        if not cat.table_exists(name):  # the same race, for the table
            raise
        return cat.load_table(name)


def check_schema(table: Any, schema: Any, target: TableTarget) -> None:
    """The table holds the run's columns with the same types, or nothing is written."""

    def columns(iceberg: Any) -> list[tuple[str, str, bool]]:
        return [(f.name, str(f.field_type), f.required) for f in iceberg.fields]

    have, want = columns(table.schema()), columns(_iceberg_schema(schema)[0])
    if have != want:
        raise OutputFormatError(
            f"the Iceberg table {target.name} has the columns {have}, not those this run writes ({want}): a US "
            "account with us_columns='native' needs a table of its own"
        )


def commit_iceberg(
    data: Any, cat: Any, target: TableTarget, window: Window, tz: Any, account: str, run: str
) -> TableCommit:
    """Replace the account's rows of the window's days with ``data``, in one commit to the pyiceberg catalog
    ``cat``."""
    from pyiceberg import expressions
    from pyiceberg.exceptions import CommitFailedException

    e: Any = expressions  # pydantic models, whose generated signatures mypy misreads

    first, last = days_of(window, tz)
    rows = e.And(
        e.EqualTo(ACCOUNT, account),
        e.GreaterThanOrEqual(DATE, first.isoformat()),
        e.LessThanOrEqual(DATE, last.isoformat()),
    )
    table = load_or_create(cat, target.name, data.schema)
    check_schema(table, data.schema, target)
    for attempt in range(_RELOADS):
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Delete operation did not match any records")
                table.overwrite(data, overwrite_filter=rows, snapshot_properties={"airflow-provider-cashflow.run": run})
            break
        except CommitFailedException:
            if attempt == _RELOADS - 1:
                raise
            log.info("the commit to %s was refused after its retries; reloading the table (%d)", target, attempt + 1)
            table = cat.load_table(target.name)
    snapshot = table.current_snapshot()  # the table as this commit left it: the append snapshot is ours
    delete = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    # overwrite() commits a delete snapshot, then the append; the table before the commit is the delete's parent
    ours = delete is not None and delete.summary.get("airflow-provider-cashflow.run") == run
    previous = delete.parent_snapshot_id if ours and delete is not None else snapshot.parent_snapshot_id
    log.info(
        "committed %d records of %s to Iceberg %s: snapshot %d", data.num_rows, window, target, snapshot.snapshot_id
    )
    return TableCommit(
        format="iceberg",
        name=target.name,
        location=table.location(),
        records=data.num_rows,
        bytes=int(snapshot.summary.get("added-files-size", 0) or 0),
        snapshot_id=snapshot.snapshot_id,
        previous=previous,
        catalog=target.conn_id or DEFAULT_CATALOG_CONN,
        metadata_location=table.metadata_location,
    )
