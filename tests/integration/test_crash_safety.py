"""A task process killed with SIGKILL mid-write (the OOM killer, a lost worker) corrupts nothing, and the next
run that writes the same target removes what the killed one left, and nothing else.

The task process is a real child (tests/helpers/task_process.py) executing the operator against the sandbox, slowed
by the sandbox's latency so that the write is caught in flight: on file:// once its hidden temporary sibling
has bytes, on S3 (a moto server process) once its multipart upload exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, Sandbox
from tests.helpers.airflow import PROGRAM_ENV, program
from tests.helpers.connections import set_connection
from tests.helpers.data import DAY, UNLIMITED, expected
from tests.helpers.operator import run_operator
from tests.helpers.servers import MotoServer

END = datetime(2026, 11, 20, tzinfo=UTC)
HEX = "0123456789abcdef" * 2  # a uuid4().hex-shaped id
S3_BLOCK = 5 * 2**20  # the smallest part S3 (and moto) accepts


@pytest.fixture(scope="module")
def big_dataset() -> Dataset:
    # ~9 MiB of JSON lines: more than one 5 MiB block, so the S3 upload becomes multipart before it ends
    return Dataset(DatasetSpec(seed=7, days=6, per_day=8000, end=END))


@pytest.fixture
def slow_sandbox(big_dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(big_dataset, rate_limit=False, latency=0.3) as server:
        set_connection(monkeypatch, "longport_default", server.connection(**UNLIMITED, timeout=30))
        yield server


def _kill_mid_write(spec: dict[str, Any], in_flight: Callable[[], bool], tmp_path: Path) -> None:
    """Start a task process, SIGKILL it as soon as ``in_flight()`` holds, and make sure it died of that."""
    log = (tmp_path / "task.log").open("w+b")
    child = subprocess.Popen(
        [sys.executable, *program("task_process"), json.dumps(spec)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **PROGRAM_ENV},
    )
    try:
        deadline = time.monotonic() + 180
        while not in_flight():
            if child.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(
                    f"the task process was not caught mid-write (exit {child.poll()}):\n"
                    f"{log.read().decode(errors='replace')[-3000:]}"
                )
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()


def test_sigkill_on_file_keeps_the_previous_file_and_the_next_run_removes_only_its_leftover(
    slow_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    target = folder / "cashflow.jsonl"
    target.write_bytes(b'{"previous": "run"}\n')
    # what the next run must not touch: another target's leftover, look-alikes, ordinary files
    others = {
        f".other.jsonl.{HEX}.tmp": b"another target's leftover",
        ".cashflow.jsonl.not-a-run-id.tmp": b"look-alike",
        f".cashflow.jsonl.{HEX}.tmp.keep": b"look-alike",
        "cashflow.jsonl.bak": b"a user's backup",
    }
    for name, data in others.items():
        (folder / name).write_bytes(data)
    start, end = END - 2 * DAY, END  # the kill comes with the first page: a short window will do
    spec = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "kwargs": {"output_path": f"file://{target}", "page_size": 2000},
    }

    def temporary_has_bytes() -> bool:
        return any(p.stat().st_size > 0 for p in folder.glob(".cashflow.jsonl.*.tmp") if p.name not in others)

    _kill_mid_write(spec, temporary_has_bytes, tmp_path)
    assert target.read_bytes() == b'{"previous": "run"}\n'
    leftovers = [p.name for p in folder.iterdir() if p.name not in others and p != target]
    assert len(leftovers) == 1 and leftovers[0].startswith(".cashflow.jsonl."), leftovers  # the killed run's

    slow_sandbox.state.latency = 0.0
    manifest, _, _ = run_operator(start, end, output_path=f"file://{target}", page_size=10000)
    assert sorted(p.name for p in folder.iterdir()) == sorted([target.name, *others])
    for name, data in others.items():
        assert (folder / name).read_bytes() == data
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert rows == expected(slow_sandbox, start, end) and manifest["records"] == len(rows)


def test_sigkill_on_s3_leaves_no_object_and_the_next_run_aborts_only_its_upload(
    slow_sandbox: Sandbox, s3_server: MotoServer, s3_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a connection id of its own: Airflow caches a filesystem per connection id, and test_s3's server is another
    set_connection(monkeypatch, "aws_moto_crash", s3_server.connection())
    s3 = s3_server.client()
    key = "flows/cashflow.jsonl"
    s3.put_object(Bucket="lake", Key=key, Body=b'{"previous": "run"}\n')
    others = {
        f"flows/.other.jsonl.{HEX}.tmp": b"another target's leftover",
        "flows/notes.txt": b"not ours",
    }
    for other, data in others.items():
        s3.put_object(Bucket="lake", Key=other, Body=data)
    # a temporary object as earlier versions of this provider left them on S3: a leftover of this target
    s3.put_object(Bucket="lake", Key=f"flows/.cashflow.jsonl.{HEX}.tmp", Body=b"half a file")
    foreign = s3.create_multipart_upload(Bucket="lake", Key="flows/other.jsonl")["UploadId"]

    def uploads() -> dict[str, str]:
        listing = s3.list_multipart_uploads(Bucket="lake").get("Uploads", [])
        return {u["UploadId"]: u["Key"] for u in listing}

    start, end = END - 6 * DAY, END
    spec = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "s3_block_size": S3_BLOCK,
        "kwargs": {"output_path": f"s3://lake/{key}", "output_conn_id": "aws_moto_crash", "page_size": 2000},
    }
    _kill_mid_write(spec, lambda: key in uploads().values(), tmp_path)

    assert s3.get_object(Bucket="lake", Key=key)["Body"].read() == b'{"previous": "run"}\n'
    assert sorted(uploads().values()) == sorted([key, "flows/other.jsonl"])  # the killed run's is still open

    slow_sandbox.state.latency = 0.0
    manifest, _, _ = run_operator(start, end, output_path=f"s3://lake/{key}", output_conn_id="aws_moto_crash")
    listing = {o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    assert listing == {key, *others}
    for other, data in others.items():
        assert s3.get_object(Bucket="lake", Key=other)["Body"].read() == data
    assert uploads() == {foreign: "flows/other.jsonl"}
    body = s3.get_object(Bucket="lake", Key=key)["Body"].read()
    rows = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    assert rows == expected(slow_sandbox, start, end) and manifest["records"] == len(rows)
    s3.abort_multipart_upload(Bucket="lake", Key="flows/other.jsonl", UploadId=foreign)


def test_a_failure_mid_multipart_upload_aborts_it(
    slow_sandbox: Sandbox, s3_server: MotoServer, s3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a kill but an exception (the API gives up) after the upload has become multipart: nothing stays open."""
    import s3fs

    from airflow_provider_cashflow.errors import LongPortAPIError

    monkeypatch.setattr(s3fs.S3FileSystem, "default_block_size", S3_BLOCK)
    set_connection(monkeypatch, "aws_moto_abort", s3_server.connection())  # a fresh filesystem, with that block
    set_connection(monkeypatch, "longport_default", slow_sandbox.connection(**UNLIMITED, max_attempts=1))
    s3 = s3_server.client()
    key = "aborted/cashflow.jsonl"
    s3.put_object(Bucket="lake", Key=key, Body=b"previous\n")
    slow_sandbox.state.latency = 0.0
    slow_sandbox.state.faults.fail_after_pages = 20  # ~7 MiB written: one 5 MiB part is uploaded by then
    started = []
    real_upload = s3fs.core.S3File._upload_chunk

    def upload_chunk(self: Any, final: bool = False) -> Any:
        started.append(self.key)
        return real_upload(self, final)

    monkeypatch.setattr(s3fs.core.S3File, "_upload_chunk", upload_chunk)
    with pytest.raises(LongPortAPIError):
        run_operator(
            END - 6 * DAY, END, output_path=f"s3://lake/{key}", output_conn_id="aws_moto_abort", page_size=2000
        )
    assert started == [key]  # a part really went up before the failure
    assert s3.get_object(Bucket="lake", Key=key)["Body"].read() == b"previous\n"
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="lake").get("Uploads", [])] == []


def test_a_temporary_file_younger_than_the_run_is_left_to_its_writer(tmp_path: Path) -> None:
    """Two runs of one target at once (a retry while a lost worker still writes) must not delete each other's file."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_cashflow.output.storage import remove_leftovers

    target = ObjectStoragePath(f"file://{tmp_path}/cashflow.jsonl")
    temporary = tmp_path / f".cashflow.jsonl.{HEX}.tmp"
    temporary.write_bytes(b"still being written")
    written = datetime.fromtimestamp(temporary.stat().st_mtime, UTC)
    assert remove_leftovers(target, before=written - DAY / 24) == [] and temporary.exists()
    assert remove_leftovers(target, before=written + DAY / 24) == [str(temporary)] and not temporary.exists()


def test_a_failure_half_way_through_a_day_keeps_the_days_written_and_leaves_no_folder(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API gives up on the fourth page: the newest day (three pages) is whole on disk, the second day's file was
    being written and is gone with its folder, the third day never got one."""
    from airflow_provider_cashflow.errors import LongPortAPIError
    from tests.helpers.data import END as DATA_END

    set_connection(monkeypatch, "longport_default", sandbox.connection(**UNLIMITED, max_attempts=1))
    sandbox.state.faults.fail_after_pages = 4
    lake = tmp_path / "lake"
    start = DATA_END - 3 * DAY
    with pytest.raises(LongPortAPIError):
        run_operator(
            start,
            DATA_END,
            output_path=f"{lake.as_uri()}/account={{conn_id}}/date={{date}}/cashflow.jsonl",
            partition_by="day",
            page_size=10,  # 30 records a day: three pages each
        )
    newest = DATA_END - DAY
    left = sorted(str(path.relative_to(lake)) for path in lake.rglob("*"))
    assert left == [
        "account=longport_default",
        f"account=longport_default/date={newest.date()}",
        f"account=longport_default/date={newest.date()}/cashflow.jsonl",
    ]
    rows = [json.loads(line) for line in (lake / left[-1]).read_text().splitlines()]
    assert rows == expected(sandbox, newest, DATA_END)
