"""Object storage targets: checked before any API call, written atomically, re-runs overwrite."""

from __future__ import annotations

import errno
import glob
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

from airflow_provider_cashflow.errors import LongPortConfigError, OutputStorageError

__all__ = ["atomic_write", "check_scheme", "open_target", "prepare_target", "remove_leftovers", "storage_error"]

log = logging.getLogger(__name__)

_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "google provider and gcsfs",
    "gcs": "google provider and gcsfs",
    "abfs": "microsoft.azure provider and adlfs",
    "az": "microsoft.azure provider and adlfs",
}


def check_scheme(url: str) -> None:
    """An output URL names its storage by its scheme (``file://``, ``s3://``, ...)."""
    if "://" not in url:
        raise LongPortConfigError(
            f"output_path {url!r} has no scheme; write e.g. file:///data/cashflow/{{date}}.jsonl or s3://bucket/key"
        )


def open_target(url: str, conn_id: str | None) -> Any:
    """An ``ObjectStoragePath`` whose filesystem is installed and configured; a clear error otherwise."""
    from airflow.sdk import ObjectStoragePath

    check_scheme(url)
    scheme = url.split("://", 1)[0].lower()
    try:
        path = ObjectStoragePath(url, conn_id=conn_id)
        path.fs  # noqa: B018 - builds the filesystem now, so a missing one fails before any API call
    except (ValueError, ImportError) as error:
        need = _EXTRAS.get(scheme)
        advice = (
            "pip install 'airflow-provider-cashflow[s3]'"
            if need == "s3"
            else f"install the {need}"
            if need
            else "install the Airflow provider and fsspec package for it"
        )
        raise LongPortConfigError(f"no filesystem for output_path scheme {scheme!r} ({error}); {advice}") from None
    return path


def prepare_target(path: Any) -> None:
    """Create the parent folder now, and on a local disk try a file in it, so an unwritable location fails before
    any API call (``/proc``, a read-only mount), with an error that names the target, not our temporary file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LongPortConfigError(
            f"cannot create the folder {path.parent} of output_path {path}: {error.strerror or error}; "
            "pick an output_path this worker can write to"
        ) from None
    if not _is_local(path):
        return  # a probe object would cost a request and need delete rights; the upload itself reports
    probe = path.parent / _temporary_name(path.name)
    try:
        with probe.open("wb"):
            pass
        probe.unlink()
    except OSError as error:
        raise LongPortConfigError(
            f"cannot write output_path {path}: its folder {path.parent} does not accept new files "
            f"({error.strerror or type(error).__name__}); pick an output_path this worker can write to"
        ) from None


@contextmanager
def atomic_write(path: Any) -> Iterator[BinaryIO]:
    """Publish ``path`` only when complete, then remove what interrupted earlier runs left for it.

    A reader never sees a partial file at ``path`` and a failed write leaves the previous file as it was. On S3 the
    object is uploaded under its own key but not completed until the end (an object store publishes an object only
    then); elsewhere a hidden sibling is written and moved over ``path``.
    """
    started = datetime.now(UTC)
    upload = _s3_upload(path) if _is_s3(path) else _hidden_sibling(path)
    try:
        with upload as raw:
            yield raw
    except OSError as error:
        raise storage_error(path, error) from None
    remove_leftovers(path, before=started)


# A local error no retry cures until someone acts; any other errno (EIO, a reset on a network mount) may pass.
_LOCAL_ADVICE = {
    errno.ENOSPC: "the disk is full: free space there (or pick an output_path on a larger disk), then clear the task",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota, then clear the task",
    errno.EFBIG: "the file is larger than this filesystem allows: pick another output_path or partition_by='day'",
    errno.EACCES: "this worker may not write there: grant its user write access to the folder, or pick another path",
    errno.EPERM: "this worker may not write there: grant its user write access to the folder, or pick another path",
    errno.EROFS: "the filesystem is read-only: pick an output_path on a writable one",
}
# An object store's refusals a retry cannot cure; every other error code, 5xx and throttling above all, may pass.
_S3_ADVICE = {
    "AccessDenied": "the output connection's credentials may not write this object: grant s3:PutObject on it",
    "AllAccessDisabled": "the bucket refuses all access: check the bucket and the output connection",
    "NoSuchBucket": "the bucket does not exist: create it or fix output_path",
    "InvalidAccessKeyId": "the output connection's access key is unknown: fix the connection",
    "SignatureDoesNotMatch": "the output connection's secret key is wrong: fix the connection",
    "EntityTooLarge": "the object is too large for one upload: partition_by='day' makes smaller files",
}


def storage_error(path: Any, error: OSError) -> OutputStorageError:
    """``error`` from writing ``path``, told as what failed, where, and what to do (no credentials: the URL is
    built from the scheme and the path alone)."""
    target = f"{(*_protocols(path), 'file')[0]}://{path.path}"
    if _is_s3(path):
        answer = getattr(error.__cause__, "response", None) or {}
        code = answer.get("Error", {}).get("Code")
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode")
        said = f"S3 answered {f'HTTP {status} ' if status else ''}{code or type(error).__name__}: {error.strerror or error}"
        if code in _S3_ADVICE or (isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)):
            return OutputStorageError(
                target, said, _S3_ADVICE.get(code, "fix the output connection or output_path"), retryable=False
            )
        return OutputStorageError(
            target,
            said,
            "the object store had a fault; the task is retried, and the files written before are kept",
            retryable=True,
        )
    reason = f"{error.strerror or error} ({errno.errorcode.get(error.errno, 'OSError')})" if error.errno else str(error)
    if error.errno in _LOCAL_ADVICE:
        return OutputStorageError(target, reason, _LOCAL_ADVICE[error.errno], retryable=False)
    return OutputStorageError(target, reason, "the task is retried; the files written before are kept", retryable=True)


def remove_leftovers(path: Any, *, before: datetime) -> list[str]:
    """Remove what runs of this provider killed while writing ``path`` left behind, and nothing else.

    That is the hidden siblings ``.NAME.<32 hex>.tmp`` of ``path`` last changed before ``before`` and, on S3, the
    multipart uploads of exactly ``path``'s key begun before ``before``: a run writing the same target right now
    keeps its own. A failure here is logged, not raised: the file itself is already published.

    :returns: what was removed, for the log and the tests.
    """
    removed: list[str] = []
    try:
        pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{32}}\.tmp")
        for candidate in path.fs.glob(f"{path.parent.path}/.{glob.escape(path.name)}.*.tmp"):
            if pattern.fullmatch(candidate.rsplit("/", 1)[-1]) and _modified(path.fs, candidate) < before:
                path.fs.rm_file(candidate)
                removed.append(candidate)
        if _is_s3(path):
            removed.extend(_abort_uploads(path, before))
    except Exception as error:
        log.warning("could not remove the leftovers of earlier runs next to %s: %s", path, error)
    if removed:
        log.info("removed %d leftover(s) of interrupted earlier runs for %s: %s", len(removed), path, removed)
    return removed


def _modified(fs: Any, candidate: str) -> datetime:
    moment: datetime = fs.modified(candidate)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _temporary_name(name: str) -> str:
    return f".{name}.{uuid.uuid4().hex}.tmp"


def _protocols(path: Any) -> tuple[str, ...]:
    protocol = getattr(path.fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _is_local(path: Any) -> bool:
    return "file" in _protocols(path)


def _is_s3(path: Any) -> bool:
    return "s3" in _protocols(path)


@contextmanager
def _hidden_sibling(path: Any) -> Iterator[BinaryIO]:
    temporary = path.parent / _temporary_name(path.name)
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


@contextmanager
def _s3_upload(path: Any) -> Iterator[BinaryIO]:
    # s3fs publishes only in close(): a small file as one PUT, a large one by completing the multipart upload it
    # began once the first block was full. So close only on success; on failure abort instead (discard).
    raw = path.fs.open(path.path, "wb")
    try:
        yield raw
        raw.close()
    except BaseException:
        try:
            raw.discard()
        except Exception:  # the next run aborts it (remove_leftovers); the original failure matters more
            log.warning("could not abort the unfinished upload of %s", path)
        raw.closed = True  # else the file's finaliser would close it, and so publish the partial file
        raise


def _abort_uploads(path: Any, before: datetime) -> list[str]:
    fs = path.fs
    bucket, key, _ = fs.split_path(path.path)
    aborted = []
    markers: dict[str, str] = {}
    while True:
        page = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key, **markers)
        for upload in page.get("Uploads", []):
            if upload["Key"] == key and upload["Initiated"] < before:
                fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                aborted.append(f"s3://{bucket}/{key} (multipart upload {upload['UploadId']})")
        if not page.get("IsTruncated"):
            return aborted
        markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
