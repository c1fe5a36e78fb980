"""``python -m airflow_provider_cashflow.sandbox``: serve a LongPort-compatible API on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import datetime

from airflow_provider_cashflow.defaults import RATE_LIMIT_CALLS, RATE_LIMIT_PERIOD
from airflow_provider_cashflow.sandbox import (
    DEMO,
    FAULT_KINDS,
    Dataset,
    DatasetSpec,
    DriftSpec,
    FaultPlan,
    RevisionSpec,
    Sandbox,
    UsDataset,
    UsOptions,
)
from airflow_provider_cashflow.sandbox.control import parse_as_of
from airflow_provider_cashflow.sandbox.drift import CANCEL_PLACEMENTS, ORDERS, POSTING_PLACEMENTS
from airflow_provider_cashflow.sandbox.us_data import TIME_FIELDS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m airflow_provider_cashflow.sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--app-key", default=DEMO.app_key)
    p.add_argument("--app-secret", default=DEMO.app_secret)
    p.add_argument("--access-token", default=DEMO.access_token)
    p.add_argument("--refresh-token", default=DEMO.refresh_token, help="the OAuth refresh token it accepts")
    p.add_argument("--seed", type=int, default=DatasetSpec.seed, help="same seed, same data")
    p.add_argument("--days", type=int, default=DatasetSpec.days, help="span of the data, ending at --end")
    p.add_argument("--per-day", type=int, default=DatasetSpec.per_day, help="records per day on average")
    p.add_argument("--records", type=int, default=None, help="total records (overrides --per-day)")
    p.add_argument("--end", default=None, help="ISO 8601 end of the data, with offset (default: now)")
    p.add_argument("--no-rate-limit", action="store_true", help="turn off the 30 calls / 30 s limit")
    p.add_argument(
        "--rate-limit-calls", type=int, default=RATE_LIMIT_CALLS, help="calls the limit admits per window (30)"
    )
    p.add_argument(
        "--rate-limit-period",
        type=float,
        default=RATE_LIMIT_PERIOD,
        help="seconds of the limit's window (30); tests prove pacing on a budget scaled down in time",
    )
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of calls (0..1) given a random fault")
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help=f"kinds to draw from: {','.join(FAULT_KINDS)}")
    p.add_argument("--fault-every", type=int, default=None, help="exactly every n-th call gets a fault")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--fail-after-pages", type=int, default=None, help="every call fails after this many pages")
    p.add_argument("--fail-kind", default="5xx", choices=FAULT_KINDS)
    p.add_argument("--stall-seconds", type=float, default=3.0)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer (a wide-area network)")
    p.add_argument("--expire-token-after", type=int, default=None, help="the token expires after K calls")
    p.add_argument("--late-share", type=float, default=0.0, help="share of records (0..1) posted late")
    p.add_argument(
        "--late-max-hours",
        type=float,
        default=RevisionSpec.late_max_hours,
        help="a late record appears up to this many hours after its business_time",
    )
    p.add_argument(
        "--provisional-share",
        type=float,
        default=0.0,
        help="share of cash dividends (0..1) first shown as provisional (在途分红, business_type 0)",
    )
    p.add_argument(
        "--settle-hours",
        type=float,
        default=RevisionSpec.settle_hours,
        help="hours after its business_time at which a provisional dividend is replaced by the paid one",
    )
    p.add_argument(
        "--as-of",
        default=None,
        help="serve the history as seen at this moment (ISO 8601 or Unix seconds; default: now)",
    )
    p.add_argument(
        "--as-of-after-request",
        type=int,
        default=None,
        help="serve each call the history as seen this many seconds after the call's end_time",
    )
    drift = p.add_argument_group("a history that changes between the calls of one paging run")
    drift.add_argument("--drift-postings", type=int, default=0, help="records posted after each page served")
    drift.add_argument("--drift-cancellations", type=int, default=0, help="records cancelled after each page")
    drift.add_argument("--drift-every", type=int, default=1, help="drift after every n-th page only")
    drift.add_argument("--drift-max-pages", type=int, default=None, help="drift after this many pages at most")
    drift.add_argument("--drift-seed", type=int, default=0, help="same seed, same changes")
    drift.add_argument(
        "--drift-placements",
        default=",".join(POSTING_PLACEMENTS),
        help=f"where postings land, drawn from: {','.join(POSTING_PLACEMENTS)}",
    )
    drift.add_argument(
        "--drift-cancel-placements",
        default=",".join(CANCEL_PLACEMENTS),
        help=f"which records are cancelled, drawn from: {','.join(CANCEL_PLACEMENTS)}",
    )
    p.add_argument(
        "--end-time",
        choices=("inclusive", "exclusive"),
        default="inclusive",
        help="whether a call's end_time second is served (the live API does not say; default: inclusive)",
    )
    us = p.add_argument_group("the US data centre's undocumented behaviour (POST /v1/us/assets/transaction-history)")
    us.add_argument("--us-order", choices=ORDERS, default="newest", help="order of the entries (default: newest)")
    us.add_argument("--us-time-field", choices=TIME_FIELDS, default="create_at", help="the time the window filters on")
    us.add_argument("--us-max-size", type=int, default=UsOptions.max_size, help="largest size accepted, 400001 above")
    us.add_argument("--us-max-span", type=int, default=None, help="longest end - start accepted, in seconds")
    us.add_argument(
        "--us-end",
        choices=("inclusive", "exclusive"),
        default=None,
        help="whether the end second is served (default: as --end-time)",
    )
    us.add_argument(
        "--us-clamp", action="store_true", help="above --us-max-size, serve that many silently instead of refusing"
    )
    us.add_argument(
        "--us-refusal-code",
        type=int,
        choices=(400001, 602001),
        default=400001,
        help="the code of a refused size or span (602001: the SDK's validation code)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    end = datetime.fromisoformat(args.end) if args.end else None
    if end is not None and end.tzinfo is None:
        _parser().error("--end needs a UTC offset, e.g. 2026-01-01T00:00:00+00:00")
    faults = FaultPlan(
        rate=args.fault_rate,
        every=args.fault_every,
        kinds=tuple(k for k in args.faults.split(",") if k),
        seed=args.fault_seed,
        fail_after_pages=args.fail_after_pages,
        fail_kind=args.fail_kind,
        stall_seconds=args.stall_seconds,
    )
    revisions = RevisionSpec(
        late_share=args.late_share,
        late_max_hours=args.late_max_hours,
        provisional_share=args.provisional_share,
        settle_hours=args.settle_hours,
    )
    dataset = Dataset(
        DatasetSpec(
            seed=args.seed, days=args.days, per_day=args.per_day, records=args.records, end=end, revisions=revisions
        )
    )
    try:
        drift = DriftSpec(
            postings=args.drift_postings,
            cancellations=args.drift_cancellations,
            every=args.drift_every,
            seed=args.drift_seed,
            max_pages=args.drift_max_pages,
            placements=tuple(p for p in args.drift_placements.split(",") if p),
            cancel_placements=tuple(p for p in args.drift_cancel_placements.split(",") if p),
        )
    except ValueError as error:
        _parser().error(str(error))
    sandbox = Sandbox(
        dataset,
        host=args.host,
        port=args.port,
        app_key=args.app_key,
        app_secret=args.app_secret,
        access_token=args.access_token,
        refresh_token=args.refresh_token,
        rate_limit=not args.no_rate_limit,
        faults=faults,
        expire_token_after=args.expire_token_after,
        latency=args.latency_ms / 1000,
        as_of=parse_as_of(args.as_of),
        as_of_after_request=args.as_of_after_request,
        drift=drift,
        end_inclusive=args.end_time == "inclusive",
        us_dataset=UsDataset(dataset.spec, args.us_time_field),
        us=UsOptions(
            order=args.us_order,
            max_size=args.us_max_size,
            max_span=args.us_max_span,
            end_inclusive=None if args.us_end is None else args.us_end == "inclusive",
            clamp=args.us_clamp,
            refusal_code=args.us_refusal_code,
        ),
    )
    sandbox.state.max_calls, sandbox.state.period = args.rate_limit_calls, args.rate_limit_period
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # the base URL first and alone on its line: SandboxProcess and scripts read it; then what a person copies
    print(sandbox.base_url, sandbox.banner(), sep="\n", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
