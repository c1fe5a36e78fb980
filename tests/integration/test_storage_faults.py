"""Storage that fails under a run: a full disk (a small tmpfs), an object store that answers 5xx or 403 (moto behind
a fault proxy), and a large upload cut half-way. Each error names the target and says what to do, what was written
before is kept, and nothing is left behind."""

from __future__ import annotations

import itertools
import os
import pwd
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest
from airflow.exceptions import AirflowFailException

from airflow_provider_cashflow.domain.models import BusinessType, CashFlow, Direction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import OutputStorageError
from airflow_provider_cashflow.output.storage import open_target
from airflow_provider_cashflow.output.writer import OutputSpec, write_window
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END
from tests.helpers.operator import run_operator
from tests.helpers.servers import FaultProxy, MotoServer

_conn_ids = (f"aws_faulty_{n}" for n in itertools.count())  # Airflow caches a filesystem per connection id


@pytest.fixture
def disk(tmp_path: Path) -> object:
    """A 256 KiB tmpfs: a disk that fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root, or a container allowed to mount): {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass  # full
    return filler


def test_a_full_disk_names_the_file_keeps_the_previous_one_and_is_not_retried(sandbox, disk: Path) -> None:
    kwargs = {"output_path": f"file://{disk}/date={{date}}/cashflow.jsonl", "partition_by": "day"}
    run_operator(END - DAY, END, **kwargs)
    (day_file,) = disk.glob("date=*/cashflow.jsonl")
    previous = day_file.read_bytes()
    filler = _fill(disk)
    with pytest.raises(AirflowFailException) as caught:  # no retry: someone must free space first
        run_operator(END - DAY, END, **kwargs)
    error = caught.value.__cause__
    assert isinstance(error, OutputStorageError) and not error.retryable
    assert error.target == f"file://{day_file}" and str(caught.value) == str(error)  # the output's, no account's
    assert f"writing file://{day_file} failed: No space left on device (ENOSPC); the disk is full" in str(error)
    assert day_file.read_bytes() == previous and sorted(p.name for p in day_file.parent.iterdir()) == [day_file.name]
    filler.unlink()
    run_operator(END - DAY, END, **kwargs)  # space freed: the rerun writes the same file again
    assert day_file.read_bytes() == previous


def _objects(s3: MotoServer) -> dict[str, bytes]:
    client = s3.client()
    listing = client.list_objects_v2(Bucket="lake").get("Contents", [])
    return {o["Key"]: client.get_object(Bucket="lake", Key=o["Key"])["Body"].read() for o in listing}


@pytest.mark.parametrize(
    "status,retryable,says",
    [
        (500, True, "S3 answered HTTP 500 InternalError: We encountered an internal error"),
        (503, True, "S3 answered HTTP 503 SlowDown: Please reduce your request rate"),
        (403, False, "S3 answered HTTP 403 AccessDenied: Access Denied; the output connection's credentials may not"),
    ],
)
def test_s3_refusing_one_days_upload_names_the_object(
    sandbox, s3_server: MotoServer, s3_env, monkeypatch, status: int, retryable: bool, says: str
) -> None:
    client = s3_server.client()
    for key in _objects(s3_server):
        client.delete_object(Bucket="lake", Key=key)
    conn_id = next(_conn_ids)
    refused = f"date={(END - DAY).date()}/"
    with FaultProxy(
        s3_server.endpoint, lambda method, path: status if method == "PUT" and refused in unquote(path) else None
    ) as proxy:
        set_connection(monkeypatch, conn_id, proxy.connection())
        kwargs = {"output_path": "s3://lake/cf/date={date}/cashflow.jsonl", "output_conn_id": conn_id}
        run_operator(END - 3 * DAY, END - DAY, partition_by="day", **kwargs)  # two days, written before the fault
        before = _objects(s3_server)
        with pytest.raises((OutputStorageError, AirflowFailException)) as caught:
            run_operator(END - 3 * DAY, END, partition_by="day", **kwargs)
    error = caught.value if isinstance(caught.value, OutputStorageError) else caught.value.__cause__
    assert isinstance(error, OutputStorageError) and error.retryable is retryable and proxy.faults
    key = f"cf/{refused}cashflow.jsonl"
    assert str(error).startswith(f"writing s3://lake/{key} failed: {says}"), str(error)
    assert "testing" not in str(error)  # the connection's keys
    assert len(before) == 2 and _objects(s3_server) == before  # the days written before are kept, nothing partial
    assert not client.list_multipart_uploads(Bucket="lake").get("Uploads")


def test_permission_denied_names_the_file_and_is_not_retried(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_cashflow.output.storage import atomic_write

    if os.geteuid() != 0:
        pytest.skip("needs root, to write as another user (nobody) for the length of the write")
    folder = tmp_path / "day"
    folder.mkdir()
    (folder / "cashflow.jsonl").write_bytes(b"previous\n")
    target = ObjectStoragePath(f"file://{folder}/cashflow.jsonl")
    os.seteuid(pwd.getpwnam("nobody").pw_uid)  # the folder is root's: another user may not create files in it
    try:
        with pytest.raises(OutputStorageError) as caught, atomic_write(target) as raw:
            raw.write(b"new\n")
    finally:
        os.seteuid(0)
    assert not caught.value.retryable
    assert str(caught.value).startswith(
        f"writing file://{folder}/cashflow.jsonl failed: Permission denied (EACCES); this worker may not write there"
    )
    assert [p.name for p in folder.iterdir()] == ["cashflow.jsonl"] and (
        folder / "cashflow.jsonl"
    ).read_bytes() == b"previous\n"


def _day_of_records(day: Window, count: int) -> list[CashFlow]:
    """``count`` records in ``day``, newest first, their descriptions random: a Parquet file that does not shrink."""
    step = (day.end - day.start) / count
    return [
        CashFlow(
            "BuyContract-Stocks",
            Direction.OUTFLOW,
            BusinessType.STOCK,
            Decimal(-i) / 100,
            "USD",
            day.end - (i + 1) * step,
            "AAPL.US",
            os.urandom(48).hex(),
        )
        for i in range(count)
    ]


def test_a_large_upload_cut_half_way_leaves_no_multipart_upload(s3_server: MotoServer, s3_env, monkeypatch) -> None:
    conn_id = next(_conn_ids)
    day = Window.of(END - DAY, END)
    spec = OutputSpec("s3://lake/big/date={date}/cashflow.parquet", conn_id, "parquet", "none", partition_by="day")
    key = f"big/date={day.start.date()}/cashflow.parquet"
    client = s3_server.client()
    client.put_object(Bucket="lake", Key=key, Body=b"the previous day file")
    part_two = lambda method, path: 500 if method == "PUT" and "partNumber=2&" in path + "&" else None  # noqa: E731
    with FaultProxy(s3_server.endpoint, part_two) as proxy:
        set_connection(monkeypatch, conn_id, proxy.connection())
        fs = open_target(spec.url_for(day), conn_id).fs
        assert open_target(spec.url_for(day), conn_id).fs is fs  # one filesystem per connection, as a task has
        monkeypatch.setattr(fs, "default_block_size", 5 * 2**20)  # S3's least part: parts of a small file
        with pytest.raises(
            OutputStorageError, match=rf"writing s3://lake/{key} failed: S3 answered HTTP 500"
        ) as caught:
            write_window(_day_of_records(day, 70_000), day, spec)  # about 8 MiB: two parts
    assert caught.value.retryable
    assert [(method, "partNumber=2" in path) for method, path, _ in proxy.faults][:1] == [("PUT", True)]
    assert client.get_object(Bucket="lake", Key=key)["Body"].read() == b"the previous day file"
    assert not client.list_multipart_uploads(Bucket="lake").get("Uploads")  # the upload begun was aborted
