"""``make bench``: the figures the README quotes, measured in one run on this machine.

Each measurement runs in a fresh child process (so imports and earlier runs do not colour it) against the
sandbox in another process, and prints one JSON line that this script turns into a table.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_provider_cashflow.sandbox import DEMO  # noqa: E402
from airflow_provider_cashflow.sandbox.process import SandboxProcess  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
PAGE = 10_000
REPEATS = 7


def _conn(base_url: str, **extra: object) -> str:
    return json.dumps(
        {
            "conn_type": "longport",
            "host": base_url,
            "login": DEMO.app_key,
            "password": DEMO.app_secret,
            "extra": {"access_token": DEMO.access_token, **extra},
        }
    )


# workers: each runs in its own process ------------------------------------------------------------------------


def worker_sdk(base_url: str, start: int, end: int, size: int) -> dict:
    from longbridge.openapi import Config, TradeContext

    ctx = TradeContext(
        Config.from_apikey(
            DEMO.app_key, DEMO.app_secret, DEMO.access_token, http_url=base_url, enable_print_quote_packages=False
        )
    )
    started = time.perf_counter()
    records, page = 0, 1
    while True:  # the SDK's own paging loop: one page per call, until a short one
        rows = ctx.cash_flow(
            start_at=datetime.fromtimestamp(start, UTC),
            end_at=datetime.fromtimestamp(end, UTC),
            page=page,
            size=size,
        )
        records += len(rows)
        if len(rows) < size:
            break
        page += 1
    return {"seconds": time.perf_counter() - started, "records": records, "calls": page}


# "off" is the SDK's own pacing (none); "default" is LongPort's limits, with the hook's safety margins
PACING = {"off": {"rate_limit_calls": 100000, "rate_limit_period": 1, "rate_limit_min_interval": 0}, "default": {}}


def worker_hook(base_url: str, start: int, end: int, size: int, pacing: str) -> dict:
    os.environ["AIRFLOW_CONN_LONGPORT_DEFAULT"] = _conn(base_url, **PACING[pacing])
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    with tempfile.TemporaryDirectory() as tmp:
        tempfile.tempdir = tmp  # a limiter window of its own: the calls of earlier runs do not count
        hook = CashflowHook()
        _ = hook.client  # reads the connection; like the SDK's Config and TradeContext, set up before the clock starts
        started = time.perf_counter()
        records = sum(
            1
            for _ in hook.iter_cash_flows(
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(end + 1, UTC),
                page_size=size,
            )
        )
        seconds = time.perf_counter() - started
        tempfile.tempdir = None
    return {"seconds": seconds, "records": records, "calls": hook.client.stats.calls}


def worker_operator(base_url: str, start: int, end: int, file_format: str, out: str) -> dict:
    os.environ["AIRFLOW_CONN_LONGPORT_DEFAULT"] = _conn(base_url, rate_limit_calls=100000, rate_limit_period=1)
    from airflow.sdk import DAG

    from airflow_provider_cashflow.operators.cashflow import CashflowOperator

    with DAG("bench", schedule=None, start_date=datetime(2020, 1, 1, tzinfo=UTC)):
        op = CashflowOperator(task_id="t", output_path=f"file://{out}", file_format=file_format, outlets=[])
    return _measured(op, start, end)


def worker_paced(base_url: str, start: int, end: int) -> dict:
    os.environ["AIRFLOW_CONN_LONGPORT_DEFAULT"] = _conn(base_url)
    os.environ["TMPDIR"] = os.environ.get("BENCH_TMP", "/tmp")
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    hook = CashflowHook()
    started = time.perf_counter()
    records = sum(
        1
        for _ in hook.iter_cash_flows(
            datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end + 1, UTC), page_size=1
        )
    )
    return {"seconds": time.perf_counter() - started, "records": records, "calls": hook.client.stats.calls}


def worker_paging(base_url: str, start: int, end: int, size: int, mode: str) -> dict:
    """One window read by the hook's cursor, or by plain offset paging (page 1, 2, ... until a short page)."""
    os.environ["AIRFLOW_CONN_LONGPORT_DEFAULT"] = _conn(base_url, **PACING["off"])
    from airflow_provider_cashflow.domain.query import CashFlowQuery
    from airflow_provider_cashflow.domain.windows import Window
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    hook = CashflowHook()
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    if mode == "cursor":
        rows = [r.to_dict() for r in hook.iter_cash_flows(*window, page_size=size)]
    else:
        query, rows, page = CashFlowQuery(Window.of(*window), page_size=size), [], 1
        while True:
            answer = hook.client.get_cash_flow_page(query, page)
            rows += [parse(r).to_dict() for r in answer if start <= int(r["business_time"]) < end]
            if len(answer) < size:
                break
            page += 1
    return {"calls": hook.client.stats.calls, "rows": rows}


def _measured(op: Any, start: int, end: int) -> dict:
    """Execute the operator for ``[start, end]``: its seconds, records, calls and bytes, and the process's RSS."""
    import resource

    context = {
        "data_interval_start": datetime.fromtimestamp(start, UTC),
        "data_interval_end": datetime.fromtimestamp(end + 1, UTC),
    }
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    manifest = op.execute(context)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "records": manifest["records"],
        "calls": manifest["api_calls"],
        "bytes": manifest["bytes"],
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
    }


def worker_us(base_url: str, start: int, end: int) -> dict:
    """A US account's window read twice by one hook: on a server it does not know yet, then on one it knows."""
    from airflow_provider_cashflow.sandbox import DEMO_US

    conn = json.loads(_conn(base_url, **PACING["off"]))
    conn.update(login=DEMO_US.app_key, password=DEMO_US.app_secret)
    conn["extra"]["access_token"] = DEMO_US.access_token
    os.environ["AIRFLOW_CONN_LONGPORT_US"] = json.dumps(conn)
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    hook = CashflowHook("longport_us")
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    fresh = sum(1 for _ in hook.iter_us_transactions(*window))
    first_calls = hook.client.stats.calls
    known = sum(1 for _ in hook.iter_us_transactions(*window))
    return {"records": fresh, "again": known, "fresh": first_calls, "known": hook.client.stats.calls - first_calls}


US_BEHAVIOURS = [  # (label, largest page, sandbox flags)
    ("no limit below 10,000", 10_000, ("--us-max-size", "10000")),
    ("clamped silently at 50", 50, ("--us-max-size", "50", "--us-clamp")),
    ("size above 50 refused (400001)", 50, ("--us-max-size", "50")),
    ("clamped silently at 500", 500, ("--us-max-size", "500", "--us-clamp")),
    ("size above 500 refused (602001)", 500, ("--us-max-size", "500", "--us-refusal-code", "602001")),
]


def bench_us() -> list[str]:
    """A month of a US account (about 1,731 entries, in a history of 60 days) read as one window, under each
    undocumented server behaviour: the calls against the floor, 1.5 x ceil(entries / the server's largest page) + 1.
    """
    rows = [
        "| server's page | order | time field, end | entries | pages (minimum) | floor | calls, fresh server | "
        "calls, server known |",
        "|---|---|---|---|---|---|---|---|",
    ]
    start, end = int((END - timedelta(days=45)).timestamp()), int((END - timedelta(days=15)).timestamp())
    for label, largest, flags in US_BEHAVIOURS:
        for order, field, end_bound in (
            ("newest", "create_at", "inclusive"),
            ("oldest", "done_at", "exclusive"),
            ("shuffled", "done_at", "exclusive"),
        ):
            with SandboxProcess(
                "--records", "3462", "--days", "60", "--end", END.isoformat(), "--no-rate-limit",
                "--us-order", order, "--us-time-field", field, "--us-end", end_bound, *flags,
            ) as sb:  # fmt: skip
                want = len(sb.us_records(start, end))
                run = _child("us", sb.base_url, start, end)
            assert run["records"] == run["again"] == want, (run, want)
            pages = -(-want // largest)
            rows.append(
                f"| {label} | {order} | {field}, {end_bound} | {want:,} | {pages} | {1.5 * pages + 1:g} | "
                f"{run['fresh']} | {run['known']} |"
            )
            print(rows[-1], flush=True)
    return rows


def worker_lake(base_url: str, start: int, end: int, target: str, out: str) -> dict:
    """One window through the operator into day files (Parquet), an Iceberg table or a Delta table, under ``out``."""
    os.environ["AIRFLOW_CONN_LONGPORT_DEFAULT"] = _conn(base_url, rate_limit_calls=100000, rate_limit_period=1)
    catalog = {"type": "sql", "uri": f"sqlite:///{out}/catalog.db", "warehouse": f"file://{out}"}
    os.environ["AIRFLOW_CONN_ICEBERG_DEFAULT"] = json.dumps({"conn_type": "iceberg", "extra": catalog})
    from airflow.sdk import DAG

    from airflow_provider_cashflow.operators.cashflow import CashflowOperator

    kwargs: dict = {
        "parquet": {"output_path": f"file://{out}/date={{date}}/cashflow.parquet", "file_format": "parquet"},
        "iceberg": {"table": "iceberg:cashflow.flows"},
        "delta": {"table": f"delta:file://{out}/delta"},
    }[target]
    with DAG("bench", schedule=None, start_date=datetime(2020, 1, 1, tzinfo=UTC)):
        op = CashflowOperator(task_id="t", partition_by="day", outlets=[], **kwargs)
    return _measured(op, start, end)


def parse(raw: dict) -> object:
    from airflow_provider_cashflow.domain.models import parse_cash_flow

    return parse_cash_flow(raw)


def _child(*args: object) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "worker", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark worker {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# the run ------------------------------------------------------------------------------------------------------


def _client_turn(pages: list[list[float]]) -> float:
    """Median seconds from the server's answer to one page until the next request arrived, on the server's clock."""
    return statistics.median(nxt[0] - prev[1] for prev, nxt in itertools.pairwise(pages))


def _window(sandbox: SandboxProcess, days: int) -> tuple[int, int]:
    return int((END - timedelta(days=days)).timestamp()), int(END.timestamp()) - 1


def bench_speed() -> list[str]:
    """Hook vs SDK: same server, same page size, no rate limit; on bare loopback and with a WAN-like latency."""
    rows = []
    rows.append(
        f"| client | pacing | server answer delay | records | calls | median s (of {REPEATS}) | records/s "
        "| client's turn between pages | time / server's own time | time / SDK time |"
    )
    rows.append("|---|---|---|---|---|---|---|---|---|---|")
    clients = {
        "sdk": ("official SDK `longbridge==5.3.0` paging loop", "none", ()),
        "off": ("`CashflowHook.iter_cash_flows`", "off, like the SDK", ("off",)),
        "default": ("`CashflowHook.iter_cash_flows`", "LongPort's limits (default)", ("default",)),
    }
    for latency in ("0", "50"):
        runs: dict[str, list[dict]] = {name: [] for name in clients}
        with SandboxProcess(
            "--records", "200000", "--days", "60", "--end", END.isoformat(), "--no-rate-limit", "--latency-ms", latency
        ) as sb:
            start, end = _window(sb, 60)
            for _ in range(REPEATS):  # interleaved, so a drift in the machine's speed touches every client alike
                for name, (_, _, extra) in clients.items():
                    run = _child("sdk" if name == "sdk" else "hook", sb.base_url, start, end, PAGE, *extra)
                    pages = sb.stats()["recent_pages"][-run["calls"] :]
                    run["turn"] = _client_turn(pages)
                    run["server"] = run["seconds"] / sum(answered - arrived for arrived, answered in pages)
                    runs[name].append(run)
        assert len({r["records"] for rs in runs.values() for r in rs}) == 1, runs
        sdk = statistics.median(r["seconds"] for r in runs["sdk"])
        delay = "none (loopback)" if latency == "0" else f"{latency} ms"
        for name, (label, pacing, _) in clients.items():
            seconds = statistics.median(r["seconds"] for r in runs[name])
            turn = statistics.median(r["turn"] for r in runs[name])
            server = statistics.median(r["server"] for r in runs[name])
            n, calls = runs[name][0]["records"], runs[name][0]["calls"]
            ratio = "" if name == "sdk" else f"**{seconds / sdk:.2f}**"
            rows.append(
                f"| {label} | {pacing} | {delay} | {n:,} | {calls} | {seconds:.2f} | {n / seconds:,.0f} | "
                f"{turn * 1000:.1f} ms | {server:.2f} | {ratio} |"
            )
        print("\n".join(rows[-len(clients) :]), flush=True)
    return rows


def bench_memory() -> list[str]:
    """Operator memory and calls at 100k and 1M records."""
    rows = []
    rows.append(
        "| operator to file:// | records | API calls (minimum) | seconds | bytes | RSS before | peak RSS | growth |"
    )
    rows.append("|---|---|---|---|---|---|---|---|")
    for total in (100_000, 1_000_000):
        with SandboxProcess(
            "--records", str(total), "--days", "365", "--end", END.isoformat(), "--no-rate-limit"
        ) as sb:
            start, end = _window(sb, 365)
            for file_format in ("jsonl", "parquet"):
                with tempfile.TemporaryDirectory() as tmp:
                    r = _child("operator", sb.base_url, start, end, file_format, f"{tmp}/out.{file_format}")
                minimum = -(-r["records"] // PAGE)
                rows.append(
                    f"| {file_format} | {r['records']:,} | {r['calls']} ({minimum}) | {r['seconds']:.1f} | "
                    f"{r['bytes']:,} | {r['baseline_mib']:.0f} MiB | {r['peak_mib']:.0f} MiB | "
                    f"{r['peak_mib'] - r['baseline_mib']:.0f} MiB |"
                )
                print(rows[-1], flush=True)
    return rows


def bench_paced() -> list[str]:
    """61 calls through the sandbox's real rate limit."""
    with SandboxProcess("--days", "30", "--per-day", "30", "--end", END.isoformat(), "--app-key", DEMO.app_key) as sb:
        start, end = _window(sb, 30)
        records = sb.records(start, end + 1)
        # 30 seconds that hold records: at page size 1 the cursor makes two calls a second (a one-record page,
        # then the second read whole) and one more at the end, 61 calls
        seconds = sorted({int(r["business_time"]) for r in records}, reverse=True)
        start = seconds[29]
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["BENCH_TMP"] = tmp
            r = _child("paced", sb.base_url, start, end)
        stats = sb.stats()
    return [
        "| paced extraction (page size 1) | calls | seconds | ideal | rejected by the server |",
        "|---|---|---|---|---|",
        f"| 30 calls / 30 s, 0.02 s apart | {r['calls']} | {r['seconds']:.1f} | 60.0 | {stats['rejected_rate_limit']} |",
    ]


def bench_paging() -> list[str]:
    """Calls to read a month of 25,000 records, the cursor against offset paging, with the history still and with
    postings and cancellations after every page served (records lost and duplicated against the sandbox's truth)."""
    rows = ["| page size | records | offset paging's calls | cursor's calls |", "|---|---|---|---|"]
    with SandboxProcess("--records", "25000", "--days", "30", "--end", END.isoformat(), "--no-rate-limit") as sb:
        start, end = int((END - timedelta(days=30)).timestamp()), int(END.timestamp())
        want = [parse(r).to_dict() for r in sb.records(start, end)]
        for size in (10_000, 1_000, 100):
            offset = _child("paging", sb.base_url, start, end, size, "offset")
            cursor = _child("paging", sb.base_url, start, end, size, "cursor")
            assert offset["rows"] == cursor["rows"] == want, "a still history must read the same either way"
            rows.append(f"| {size:,} | {len(want):,} | {offset['calls']} | {cursor['calls']} |")
            print(rows[-1], flush=True)
    rows += [
        "",
        f"changing history ({' '.join(DRIFT)}):",
        "",
        "| page size | pager | calls | records | lost | duplicated or never there |",
        "|---|---|---|---|---|---|",
    ]
    for size in (10_000, 1_000):
        for mode in ("offset", "cursor"):
            with SandboxProcess(
                "--records", "25000", "--days", "30", "--end", END.isoformat(), "--no-rate-limit", *DRIFT
            ) as sb:
                mark = sb.mark()
                run = _child("paging", sb.base_url, start, end, size, mode)
                problems = sb.drift_truth(start, end, after=mark).problems(
                    map(_key, run["rows"]), key=lambda raw: _key(parse(raw).to_dict())
                )
            lost, extra = (sum(problems.get(kind, {}).values()) for kind in ("lost", "extra"))
            rows.append(f"| {size:,} | {mode} | {run['calls']} | {len(run['rows']):,} | {lost} | {extra} |")
            print(rows[-1], flush=True)
    return rows


DRIFT = ("--drift-postings", "2", "--drift-cancellations", "1", "--drift-seed", "1")


def bench_lake() -> list[str]:
    """1,000,000 records of a year through the operator: Parquet day files, one Iceberg commit, one Delta version."""
    rows = [
        "| operator, 1,000,000 records of 365 days | API calls | seconds | records/s | bytes | RSS before | peak RSS | growth |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with SandboxProcess("--records", "1000000", "--days", "365", "--end", END.isoformat(), "--no-rate-limit") as sb:
        start, end = _window(sb, 365)
        for target, label in (
            ("parquet", "Parquet day files (365)"),
            ("iceberg", "Iceberg table, one commit (SQLite catalog)"),
            ("delta", "Delta table, one version"),
        ):
            with tempfile.TemporaryDirectory() as tmp:
                r = _child("lake", sb.base_url, start, end, target, tmp)
            rows.append(
                f"| {label} | {r['calls']} | {r['seconds']:.1f} | {r['records'] / r['seconds']:,.0f} | "
                f"{r['bytes']:,} | {r['baseline_mib']:.0f} MiB | {r['peak_mib']:.0f} MiB | "
                f"{r['peak_mib'] - r['baseline_mib']:.0f} MiB |"
            )
            print(rows[-1], flush=True)
    return rows


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


SECTIONS = {
    "speed": bench_speed,
    "memory": bench_memory,
    "paced": bench_paced,
    "paging": bench_paging,
    "lake": bench_lake,
    "us": bench_us,
}


def main(sections: list[str]) -> int:
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown benchmark sections {unknown}; choose from {', '.join(SECTIONS)} (none: all)")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    tables = [SECTIONS[name]() for name in sections or SECTIONS]
    print("\n" + "\n\n".join("\n".join(table) for table in tables), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "worker":
        kind, args = sys.argv[2], sys.argv[3:]
        workers = {
            "sdk": worker_sdk,
            "hook": worker_hook,
            "operator": worker_operator,
            "paced": worker_paced,
            "paging": worker_paging,
            "lake": worker_lake,
            "us": worker_us,
        }
        fn = workers[kind]
        typed = [int(a) if a.isdigit() else a for a in args]
        print(json.dumps(fn(*typed)))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
