"""A real S3 API for tests: a moto server process on a free loopback port, stopped by the fixture."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from process_support import free_port, stop_process


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=self._log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start")
                time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()

    def connection(self) -> dict:
        return {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[MotoServer]:
    """A moto server with a bucket ``lake``, one per test module: Airflow caches a filesystem per connection id,
    so the endpoint must not move within a module."""
    server = MotoServer()
    try:
        server.client().create_bucket(Bucket="lake")
        yield server
    finally:
        server.stop()
