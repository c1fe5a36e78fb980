"""The assets the operator's files belong to: one fixed asset per output folder, or, when one task is mapped over
several accounts (``{conn_id}`` in ``output_path``), an alias that receives each account's asset at run time.

Outlets are fixed when the DAG is parsed, before the accounts of a mapped task are known; an ``AssetAlias`` is
how a task names its assets while it runs.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cashflow.output.manifest import Manifest, query_summary

__all__ = ["CONN_ID_PLACEHOLDER", "account_path", "default_outlet", "emit_asset_events", "folder_asset"]

CONN_ID_PLACEHOLDER = "{conn_id}"
_NAME_PREFIX = "longport_cashflow:"


def account_path(output_path: str, conn_id: str) -> str:
    """``output_path`` with ``{conn_id}`` replaced by the account's connection id."""
    if CONN_ID_PLACEHOLDER in output_path and ("/" in conn_id or conn_id in (".", "..")):
        from airflow_provider_cashflow.errors import LongPortConfigError

        raise LongPortConfigError(
            f"longport_conn_id {conn_id!r} cannot stand for {CONN_ID_PLACEHOLDER} in output_path: it must not contain "
            "'/' or be '.' or '..'; rename the connection or write the folder into output_path yourself"
        )
    return output_path.replace(CONN_ID_PLACEHOLDER, conn_id)


def folder_asset(output_path: str) -> Any:
    """An Asset for the fixed folder in front of the first placeholder, so downstream DAGs can be triggered."""
    prefix = output_path.split("{", 1)[0]
    if "://" not in prefix:
        return None
    folder = prefix.rsplit("/", 1)[0] if not prefix.endswith("/") else prefix.rstrip("/")
    if folder.endswith((":/", ":")):
        return None
    try:
        from airflow.sdk import Asset

        return Asset(uri=folder, name=f"{_NAME_PREFIX}{folder}")
    except Exception:  # an unusual URI must not stop the DAG from parsing
        return None


def default_outlet(output_path: str | None) -> Any:
    """The outlet an operator gets when none is given: an alias if the path varies by account, else the folder."""
    if not output_path:
        return None
    if CONN_ID_PLACEHOLDER not in output_path:
        return folder_asset(output_path)
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"{_NAME_PREFIX}{output_path}")


def emit_asset_events(
    outlets: list[Any], events: Any, output_path: str, manifest: Manifest, partition_key: str | None = None
) -> None:
    """Attach the manifest's figures to each Asset outlet; add this account's folder asset to each alias.

    :param output_path: the path with ``{conn_id}`` already replaced.
    :param partition_key: a partitioned run's key: Airflow stamps the event with it too; the extra keeps it
        readable beside the figures.
    """
    from airflow.sdk import Asset, AssetAlias

    window = manifest.query.window
    extra: dict[str, Any] = {
        "records": manifest.records,
        "files": len(manifest.files),
        "interval_start": window.start.isoformat(),
        "interval_end": window.end.isoformat(),
        "partition_timezone": manifest.partition_timezone.key,
        "query": query_summary(manifest.query),  # a filtered run's files are a subset: symbol, business_type
    }
    if partition_key:
        extra["partition_key"] = partition_key
    if manifest.table is not None:  # a table run: the table, and the snapshot or version it committed
        extra["table"] = manifest.table.to_dict()
    if manifest.rewritten is not None:  # lookback: the days rewritten, and what each gained and lost
        extra["rewritten"] = [change.to_dict() for change in manifest.rewritten]
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra = extra
        elif isinstance(outlet, AssetAlias):
            asset = folder_asset(output_path)
            if asset is not None:
                events[outlet].add(asset, extra=extra)
