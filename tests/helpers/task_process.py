"""A task process for the crash tests: builds a DAG and executes CashflowOperator, as a worker's task would.

Run as ``python -m tests.helpers.task_process SPEC_JSON`` from the repository root with the connections in ``AIRFLOW_CONN_*``; SPEC_JSON holds
``start``, ``end`` (ISO 8601), the operator's ``kwargs`` and optionally ``s3_block_size`` and ``start_at`` (a Unix
time to wait for once imported, so that several task processes run at once).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime


def main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    if spec.get("s3_block_size"):
        import s3fs

        # s3fs starts a multipart upload once a block is full (50 MiB by default); a small block lets a test
        # catch one in flight without producing 50 MiB of records
        s3fs.S3FileSystem.default_block_size = int(spec["s3_block_size"])
    from tests.helpers.operator import run_operator

    if spec.get("start_at"):
        time.sleep(max(0.0, spec["start_at"] - time.time()))
    run_operator(datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"]), **spec["kwargs"])


if __name__ == "__main__":
    main(sys.argv[1])
