"""``make demo`` as a newcomer runs it: the connection it uses, each timed step labelled, three days' results,
Airflow started once in the demo's own process (the timings are printed, not asserted: the machine decides them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_prints_its_connection_labels_its_steps_and_shows_three_days(tmp_path: Path) -> None:
    env = {**os.environ, "CASHFLOW_DEMO_DIR": str(tmp_path / "demo")}
    env.pop("AIRFLOW_CONN_LONGPORT_DEFAULT", None)
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")], env=env, capture_output=True, text=True, timeout=300
    )
    out = result.stdout
    print(out)  # the figures, for whoever reads the test log
    assert result.returncode == 0, out + result.stderr[-3000:]
    (line,) = [line.strip() for line in out.splitlines() if "AIRFLOW_CONN_LONGPORT_DEFAULT=" in line]
    assert re.fullmatch(r"AIRFLOW_CONN_LONGPORT_DEFAULT='\{.*\"host\": \"http://127\.0\.0\.1:\d+\".*\}'", line), line
    assert '"login": "sandbox-app-key"' in line  # the published demo credentials, ready to copy
    for label in [
        "Airflow imported and configured",
        "airflow db migrate",
        *(f"day {n} of 3: airflow dags test" for n in (1, 2, 3)),
    ]:
        assert re.search(rf"^    {re.escape(label)}: \d+\.\d s$", out, re.M), label
    assert "took" not in out  # every timing says what it timed
    lake = tmp_path / "demo" / "lake"
    days = sorted(path.parent.name for path in lake.glob("date=*/cashflow.jsonl"))
    assert len(days) == 3 and all(path.stat().st_size > 0 for path in lake.glob("date=*/cashflow.jsonl")), days
    assert re.search(r"first result after \d+\.\d s, all 3 days done after \d+\.\d s", out)
    # Airflow ran inside the demo's process: its own output went to the log, not to the terminal
    log = (tmp_path / "demo" / "airflow.log").read_text()
    assert log.count("DagRun Finished") == 3 and log.count("state=success") >= 3
    assert "DagRun Finished" not in out
