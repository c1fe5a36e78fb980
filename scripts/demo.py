"""``make demo``: the daily example DAG for the last three days, through real Airflow, against the sandbox.

Everything lives in ``.demo/`` inside the checkout (ignored by git): the Airflow home with its SQLite
metadata DB, and the data lake the DAG writes to. Run it as often as you like; Ctrl-C stops everything it
started.

To point the same DAG at a real LongPort account instead of the sandbox, export the connection first::

    export AIRFLOW_CONN_LONGPORT_DEFAULT='{"conn_type": "longport", "login": "<app key>",
        "password": "<app secret>", "extra": {"access_token": "<access token>"}}'
    make demo
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / ".demo"
DAG_ID = "example_cashflow_daily"
DAYS = 3


STARTED = time.monotonic()


def step(message: str) -> None:
    print(f"==> [{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    began = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        log = DEMO / "last-error.log"
        log.write_text(result.stdout + result.stderr)
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SystemExit(f"airflow {' '.join(args)} failed (full output in {log}):\n{tail}")
    print(f"    took {time.monotonic() - began:.1f} s", flush=True)
    return result


def summarise(path: Path) -> tuple[int, dict[str, dict[str, Decimal]]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"in": Decimal(0), "out": Decimal(0)})
    count = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        totals[record["currency"]]["in" if record["direction"] == 2 else "out"] += Decimal(record["balance"])
        count += 1
    return count, totals


def has_pool(database: Path, name: str) -> bool:
    import sqlite3

    with sqlite3.connect(database) as db:
        return db.execute("select count(*) from slot_pool where pool = ?", (name,)).fetchone()[0] > 0


def print_day(path: Path, day: datetime) -> None:
    count, totals = summarise(path)
    rel = f"{path.relative_to(REPO)} ({path.stat().st_size:,} bytes)"
    if not totals:
        print(f"{day.date()!s:<12} {count:>7}  {'-':<8} {'-':>14} {'-':>14}   {rel}")
    for i, (currency, t) in enumerate(sorted(totals.items())):
        first = i == 0
        print(
            f"{str(day.date()) if first else '':<12} {count if first else '':>7}  {currency:<8} "
            f"{t['in']:>14,.2f} {t['out']:>14,.2f}   {rel if first else ''}",
            flush=True,
        )


def main() -> int:
    from airflow_provider_cashflow.sandbox.process import SandboxProcess

    home, lake = DEMO / "airflow", DEMO / "lake"
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(lake, ignore_errors=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "LONGPORT_CASHFLOW_OUTPUT": f"file://{lake}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    real = "AIRFLOW_CONN_LONGPORT_DEFAULT" in os.environ
    sandbox = None
    try:
        if real:
            step("using the connection in AIRFLOW_CONN_LONGPORT_DEFAULT (a real LongPort account)")
        else:
            step("starting the LongPort sandbox on loopback (90 days of realistic data, real rate limits)")
            sandbox = SandboxProcess().start()
            from airflow_provider_cashflow.sandbox import DEMO as CREDS

            env["AIRFLOW_CONN_LONGPORT_DEFAULT"] = json.dumps(
                {
                    "conn_type": "longport",
                    "host": sandbox.base_url,
                    "login": CREDS.app_key,
                    "password": CREDS.app_secret,
                    "extra": {"access_token": CREDS.access_token},
                }
            )
            print(f"    sandbox at {sandbox.base_url}", flush=True)
        step(f"preparing Airflow in {home.relative_to(REPO)} (airflow db migrate, pool longport_api)")
        airflow(env, "db", "migrate")
        if has_pool(home / "airflow.db", "longport_api"):  # a second run: spare a whole Airflow CLI start
            print("    pool longport_api exists already", flush=True)
        else:
            airflow(env, "pools", "set", "longport_api", "4", "LongPort cash-flow API budget")
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = [today - timedelta(days=n) for n in range(DAYS, 0, -1)]
        # Newest day first, and each day's result as soon as its run ends: the first result needs one
        # `airflow dags test`, not three.
        for number, day in enumerate(reversed(days), start=1):
            # With CronDataIntervalTimetable, `dags test DAG D` runs the interval [D - 1 day, D).
            step(
                f"[{number}/{DAYS}] airflow dags test {DAG_ID} {(day + timedelta(days=1)).date()}  (interval {day.date()})"
            )
            airflow(env, "dags", "test", DAG_ID, (day + timedelta(days=1)).date().isoformat())
            if number == 1:
                first = time.monotonic() - STARTED
                print(f"\n{'day (UTC)':<12} {'records':>7}  {'currency':<8} {'inflow':>14} {'outflow':>14}   file")
            print_day(lake / f"date={day.date()}" / "cashflow.jsonl", day)
            if number == 1:
                print(f"    first result after {first:.0f} s\n", flush=True)
        if sandbox is not None:
            stats = sandbox.stats()
            print(f"\nsandbox: {stats['calls']} API calls, {stats['rejected_rate_limit']} rejected by the rate limit")
        print(
            f"first result after {first:.0f} s, all {DAYS} days done after {time.monotonic() - STARTED:.0f} s; "
            f"the files are in {lake.relative_to(REPO)}/"
        )
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping what the demo started", flush=True)
        return 130
    finally:
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
