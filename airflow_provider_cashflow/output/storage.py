"""Object storage targets: checked before any API call, written atomically, re-runs overwrite."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["atomic_write", "open_target", "prepare_target"]

log = logging.getLogger(__name__)

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "google provider and gcsfs", "gcs": "google provider and gcsfs",
           "abfs": "microsoft.azure provider and adlfs", "az": "microsoft.azure provider and adlfs"}


def open_target(url: str, conn_id: str | None) -> Any:
    """An ``ObjectStoragePath`` whose filesystem is installed and configured; a clear error otherwise."""
    from airflow.sdk import ObjectStoragePath

    if "://" not in url:
        raise LongPortConfigError(
            f"output_path {url!r} has no scheme; write e.g. file:///data/cashflow/{{date}}.jsonl or s3://bucket/key"
        )
    scheme = url.split("://", 1)[0].lower()
    try:
        path = ObjectStoragePath(url, conn_id=conn_id)
        path.fs  # noqa: B018 - builds the filesystem now, so a missing one fails before any API call
    except (ValueError, ImportError) as error:
        need = _EXTRAS.get(scheme)
        advice = (
            "pip install 'airflow-provider-cashflow[s3]'" if need == "s3"
            else f"install the {need}" if need else "install the Airflow provider and fsspec package for it"
        )
        raise LongPortConfigError(f"no filesystem for output_path scheme {scheme!r} ({error}); {advice}") from None
    return path


def prepare_target(path: Any) -> None:
    """Create the parent folder now, so an unwritable location fails before any API call."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (PermissionError, OSError) as error:
        raise LongPortConfigError(f"cannot write under {path.parent}: {error}; pick a writable output_path") from None


@contextmanager
def atomic_write(path: Any) -> Iterator[BinaryIO]:
    """Write to a hidden sibling and move it over ``path`` only when complete.

    A reader never sees a partial file at ``path`` and a failed write leaves the previous file as it was. On
    ``file://`` the move is a rename; on object stores a server-side copy, published whole.
    """
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with temporary.open("wb") as raw:
            yield raw
        path.fs.mv(temporary.path, path.path)
    except BaseException:
        try:
            if temporary.exists():
                temporary.unlink()
        except Exception:  # the original failure matters more than a leftover temp file
            log.warning("could not remove the temporary file %s", temporary)
        raise
