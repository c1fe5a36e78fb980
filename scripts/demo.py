"""``make demo``: the daily example DAG for the last three days, through real Airflow, against the sandbox.

Everything lives in ``.demo/`` inside the checkout (ignored by git): the Airflow home with its SQLite
metadata DB, the data lake the DAG writes to, and ``airflow.log`` with Airflow's own output. Run it as often as
you like; Ctrl-C stops everything it started.

Airflow starts once: this process runs ``airflow db migrate``, ``airflow pools set`` and one ``airflow dags test``
per day through Airflow's own command line parser, so the import and set-up that every ``airflow`` command pays
(about ten seconds here) are paid once, not five times.

To point the same DAG at a real LongPort account instead of the sandbox, export the connection first::

    export AIRFLOW_CONN_LONGPORT_DEFAULT='{"conn_type": "longport", "login": "<app key>",
        "password": "<app secret>", "extra": {"access_token": "<access token>"}}'
    make demo
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("CASHFLOW_DEMO_DIR") or REPO / ".demo")  # the tests run it elsewhere
LOG = DEMO / "airflow.log"
DAG_ID = "example_cashflow_daily"
DAYS = 3

STARTED = time.monotonic()
OUT: TextIO = sys.stdout  # this demo's own lines; Airflow's go to LOG


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def say(message: str = "") -> None:
    print(message, file=OUT, flush=True)


def step(message: str) -> None:
    say(f"==> [{time.monotonic() - STARTED:5.1f} s] {message}")


@contextmanager
def timed(label: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    say(f"    {label}: {time.monotonic() - began:.1f} s")


@contextmanager
def airflow_output_to_log() -> Iterator[None]:
    """Airflow's output (its logs, the task's, any child process's) into LOG, at the file-descriptor level; this
    demo keeps writing to the terminal."""
    global OUT
    terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    saved = os.dup(1), os.dup(2)
    with LOG.open("w") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        OUT = terminal
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            OUT = sys.stdout
            terminal.close()


class Airflow:
    """Airflow's command line, run in this process: ``run("dags", "test", ...)`` does what ``airflow dags test
    ...`` does, without a new interpreter, import and configuration each time."""

    def __init__(self) -> None:
        from airflow import configuration
        from airflow.cli import cli_parser

        # what `airflow` itself does first on the versions that have it (the config file of a new home)
        write_config = getattr(configuration, "write_default_airflow_configuration_if_needed", None)
        if write_config is not None:
            write_config()
        self._parser = cli_parser.get_parser()

    def run(self, *argv: str) -> None:
        args = self._parser.parse_args(list(argv))
        try:
            args.func(args)
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                failed(f"airflow {' '.join(argv)}", exit_.code)
        except Exception as error:
            failed(f"airflow {' '.join(argv)}", f"{type(error).__name__}: {error}")


def failed(command: str, reason: Any) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    tail = "\n".join(LOG.read_text(errors="replace").splitlines()[-15:])
    say(f"{command} failed ({reason}); the last lines of {_shown(LOG)}:\n{tail}")
    raise SystemExit(1)


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
    rel = f"{_shown(path)} ({path.stat().st_size:,} bytes)"
    if not totals:
        say(f"{day.date()!s:<12} {count:>7}  {'-':<8} {'-':>14} {'-':>14}   {rel}")
    for i, (currency, t) in enumerate(sorted(totals.items())):
        first = i == 0
        say(
            f"{str(day.date()) if first else '':<12} {count if first else '':>7}  {currency:<8} "
            f"{t['in']:>14,.2f} {t['out']:>14,.2f}   {rel if first else ''}"
        )


def main() -> int:
    from airflow_provider_cashflow.sandbox.process import SandboxProcess

    home, lake = DEMO / "airflow", DEMO / "lake"
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(lake, ignore_errors=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "LONGPORT_CASHFLOW_OUTPUT": f"file://{lake}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    sandbox = None
    first = None
    try:
        if "AIRFLOW_CONN_LONGPORT_DEFAULT" in os.environ:
            step("using the connection in AIRFLOW_CONN_LONGPORT_DEFAULT (a real LongPort account)")
        else:
            step("starting the LongPort sandbox on loopback (90 days of realistic data, real rate limits)")
            with timed("sandbox started"):
                sandbox = SandboxProcess().start()
            from airflow_provider_cashflow.sandbox import DEMO as CREDS

            connection = json.dumps(
                {
                    "conn_type": "longport",
                    "host": sandbox.base_url,
                    "login": CREDS.app_key,
                    "password": CREDS.app_secret,
                    "extra": {"access_token": CREDS.access_token},
                }
            )
            env["AIRFLOW_CONN_LONGPORT_DEFAULT"] = connection
            say("    the connection this demo uses (the sandbox's published demo credentials):")
            say(f"    AIRFLOW_CONN_LONGPORT_DEFAULT='{connection}'")
        os.environ.update(env)  # before Airflow is imported: it reads AIRFLOW_HOME once
        with airflow_output_to_log():
            step(f"starting Airflow once in this process (its output: {_shown(LOG)})")
            with timed("Airflow imported and configured"):
                airflow = Airflow()
            step(f"preparing Airflow in {_shown(home)}: airflow db migrate, pool longport_api")
            from airflow import __version__

            # the schema depends on Airflow's version alone: a re-run with the same Airflow skips the migration
            migrated = home / f".migrated-{__version__}"
            if migrated.exists() and (home / "airflow.db").exists():
                say(f"    the metadata DB is migrated for Airflow {__version__} already")
            else:
                with timed("airflow db migrate"):
                    airflow.run("db", "migrate")
                migrated.touch()
            if has_pool(home / "airflow.db", "longport_api"):
                say("    pool longport_api exists already")
            else:
                with timed("airflow pools set longport_api"):
                    airflow.run("pools", "set", "longport_api", "4", "LongPort cash-flow API budget")
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            days = [today - timedelta(days=n) for n in range(DAYS, 0, -1)]
            # Newest day first, and each day's result as soon as its run ends.
            for number, day in enumerate(reversed(days), start=1):
                # With CronDataIntervalTimetable, `dags test DAG D` runs the interval [D - 1 day, D).
                logical = (day + timedelta(days=1)).date().isoformat()
                step(f"[{number}/{DAYS}] airflow dags test {DAG_ID} {logical}  (interval {day.date()})")
                with timed(f"day {number} of {DAYS}: airflow dags test"):
                    airflow.run("dags", "test", DAG_ID, logical)
                if first is None:
                    first = time.monotonic() - STARTED
                    say(f"\n{'day (UTC)':<12} {'records':>7}  {'currency':<8} {'inflow':>14} {'outflow':>14}   file")
                print_day(lake / f"date={day.date()}" / "cashflow.jsonl", day)
                if number == 1:
                    say(f"    first result after {first:.1f} s\n")
        if sandbox is not None:
            stats = sandbox.stats()
            say(f"\nsandbox: {stats['calls']} API calls, {stats['rejected_rate_limit']} rejected by the rate limit")
        say(
            f"first result after {first:.1f} s, all {DAYS} days done after {time.monotonic() - STARTED:.1f} s; "
            f"the files are in {_shown(lake)}/ (outflows are negative: net = inflow + outflow)"
        )
        return 0
    except KeyboardInterrupt:
        say("\ninterrupted; stopping what the demo started")
        return 130
    finally:
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
