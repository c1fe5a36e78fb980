"""A run's window into a Delta Lake table: one version, through deltalake, on ``file://`` or ``s3://``.

The commit is ``write_deltalake(mode="overwrite", predicate=...)`` on the run's account and days: the rows it
replaces and the rows it adds are one version of the log. Delta refuses rows outside the predicate itself, and
writers of other accounts commit at the same time (delta-rs checks their predicates and retries); a writer of the
same account and days loses with ``CommitFailedError`` instead of duplicating rows. On S3, deltalake 1.x commits by
conditional writes: no lock service is needed.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import OutputFormatError
from airflow_provider_cashflow.output.tables import ACCOUNT, DATE, TableCommit, TableTarget, days_of

__all__ = ["commit_delta"]

log = logging.getLogger(__name__)
_RUN_KEY = "airflow-provider-cashflow.run"
_COMMIT_RETRIES = 100  # concurrent accounts: each refused commit is checked against the winner's and retried


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def commit_delta(
    data: Any, target: TableTarget, options: dict[str, str], window: Window, tz: Any, account: str, run: str
) -> TableCommit:
    """Replace the account's rows of the window's days with ``data``, in one Delta version.

    :param options: deltalake's storage options (credentials, endpoint).
    """
    from deltalake import CommitProperties, DeltaTable, write_deltalake

    first, last = days_of(window, tz)
    _check_columns(target, options, data.schema.names)
    predicate = f"{ACCOUNT} = {_quoted(account)} AND {DATE} >= '{first}' AND {DATE} <= '{last}'"
    write_deltalake(
        target.name,
        data,
        mode="overwrite",
        predicate=predicate,
        partition_by=[ACCOUNT, DATE],
        storage_options=options,
        commit_properties=CommitProperties(custom_metadata={_RUN_KEY: run}, max_commit_retries=_COMMIT_RETRIES),
    )
    table = DeltaTable(target.name, storage_options=options)
    # write_deltalake does not say which version it made; the log does, by the run id it carries
    version = _version_of(table, run)
    log.info("committed %d records of %s to Delta %s: version %d", data.num_rows, window, target, version)
    return TableCommit(
        format="delta",
        name=target.name,
        location=target.name,
        records=data.num_rows,
        bytes=_window_bytes(DeltaTable(target.name, version=version, storage_options=options), account, first, last),
        version=version,
        previous=version - 1 if version > 0 else None,
    )


def _version_of(table: Any, run: str) -> int:
    """The version whose commit carries the run id: among the latest commits, else in the whole log."""
    for limit in (200, None):
        found = next((entry["version"] for entry in table.history(limit) if entry.get(_RUN_KEY) == run), None)
        if found is not None:
            return int(found)
    raise RuntimeError(f"the Delta log of {table.table_uri} has no commit of run {run}")  # pragma: no cover


def _check_columns(target: TableTarget, options: dict[str, str], names: list[str]) -> None:
    """An existing table holds the run's columns, or nothing is written."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(target.name, storage_options=options):
        return
    have = [field.name for field in DeltaTable(target.name, storage_options=options).schema().fields]
    if have != names:
        raise OutputFormatError(
            f"the Delta table {target.name} has the columns {have}, not those this run writes ({names}): a US "
            "account with us_columns='native' needs a table of its own"
        )


def _window_bytes(table: Any, account: str, first: Any, last: Any) -> int:
    """The size of the data files that hold the account's days in this version."""
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))  # an arro3 table, read through the Arrow C interface
    mask = pc.and_(
        pc.equal(actions[f"partition.{ACCOUNT}"], account),
        pc.and_(
            pc.greater_equal(actions[f"partition.{DATE}"], first), pc.less_equal(actions[f"partition.{DATE}"], last)
        ),
    )
    return int(pc.sum(pc.filter(actions["size_bytes"], mask)).as_py() or 0)
