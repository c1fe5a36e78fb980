"""The operator against a real S3 API (moto server on loopback) through the amazon provider and s3fs."""

from __future__ import annotations

import gzip
import json

import pytest

from airflow_provider_cashflow.errors import LongPortAPIError
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, END, UNLIMITED, expected
from tests.helpers.lake import normalised, read_records
from tests.helpers.operator import run_operator
from tests.helpers.servers import MotoServer


@pytest.fixture
def s3(s3_server: MotoServer, s3_env: None, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    set_connection(monkeypatch, "aws_moto", s3_server.connection())
    client = s3_server.client()
    for key in _objects(s3_server):
        client.delete_object(Bucket="lake", Key=key)
    return s3_server


def _objects(s3: MotoServer) -> dict[str, bytes]:
    client = s3.client()
    listing = client.list_objects_v2(Bucket="lake").get("Contents", [])
    return {o["Key"]: client.get_object(Bucket="lake", Key=o["Key"])["Body"].read() for o in listing}


@pytest.mark.parametrize("file_format,compression", [("jsonl", "gzip"), ("parquet", "zstd"), ("csv", "none")])
def test_write_read_back_and_rerun_on_s3(sandbox, s3, tmp_path, file_format, compression) -> None:
    start, end = END - 3 * DAY, END
    kwargs = dict(
        output_path=f"s3://lake/cashflow/date={{date}}/cashflow.{file_format}",
        output_conn_id="aws_moto",
        file_format=file_format,
        compression=compression,
        partition_by="day",
    )
    manifest, _, _ = run_operator(start, end, **kwargs)
    objects = _objects(s3)
    assert sorted(objects) == [f"cashflow/date={(start + i * DAY).date()}/cashflow.{file_format}" for i in range(3)]
    for i, f in enumerate(manifest["files"]):
        key = f["path"].split("lake/", 1)[1]
        assert f["bytes"] == len(objects[key])
        want = expected(sandbox, start + i * DAY, start + (i + 1) * DAY)
        copy = tmp_path / f"{i}.{file_format}"
        copy.write_bytes(objects[key])
        assert normalised(read_records(copy, file_format, compression)) == normalised(want)
    run_operator(start, end, **kwargs)
    assert _objects(s3) == objects  # re-run: same keys, same bytes, nothing added


def test_failed_run_leaves_the_previous_object_and_no_temporary_one(sandbox, s3, monkeypatch) -> None:
    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, max_attempts=1))
    client = s3.client()
    previous = gzip.compress(b"previous\n", mtime=0)  # one value: gzip stamps the current second otherwise
    client.put_object(Bucket="lake", Key="flows/cashflow.jsonl.gz", Body=previous)
    sandbox.state.faults.fail_after_pages = 1
    kwargs = dict(
        output_path="s3://lake/flows/cashflow.jsonl.gz", output_conn_id="aws_moto", compression="gzip", page_size=10
    )
    with pytest.raises(LongPortAPIError):
        run_operator(END - 3 * DAY, END, **kwargs)
    assert _objects(s3) == {"flows/cashflow.jsonl.gz": previous}
    assert client.list_multipart_uploads(Bucket="lake").get("Uploads", []) == []  # the failed upload was aborted
    sandbox.state.faults.fail_after_pages = None
    run_operator(END - 3 * DAY, END, **kwargs)
    rows = [json.loads(line) for line in gzip.decompress(_objects(s3)["flows/cashflow.jsonl.gz"]).splitlines()]
    assert rows == expected(sandbox, END - 3 * DAY, END)
