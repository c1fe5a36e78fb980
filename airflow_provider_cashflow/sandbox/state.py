"""What the sandbox knows and counts: accounts, rate budgets, faults, the two endpoints' histories, statistics."""

from __future__ import annotations

import bisect
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cashflow.defaults import RATE_LIMIT_CALLS, RATE_LIMIT_MIN_INTERVAL, RATE_LIMIT_PERIOD
from airflow_provider_cashflow.sandbox.accounts import DEMO_US, Account, Credentials
from airflow_provider_cashflow.sandbox.data import Dataset
from airflow_provider_cashflow.sandbox.drift import DriftSpec
from airflow_provider_cashflow.sandbox.faults import FaultPlan
from airflow_provider_cashflow.sandbox.history import History
from airflow_provider_cashflow.sandbox.us_data import UsDataset

__all__ = ["Credentials", "SandboxState", "UsOptions"]


@dataclass
class UsOptions:
    """What the US endpoint leaves undocumented, as sandbox settings, so a client can be proven exact under each.

    :param order: ``newest`` (by the filtered time), ``oldest``, or ``shuffled`` (no order, the same every call).
    :param max_size: the largest ``size`` it serves; above it, 400001 naming the limit (or see ``clamp``).
    :param max_span: the longest window (``end - start``, seconds) it accepts, or ``None``; above it, 400001.
    :param end_inclusive: whether it serves the ``end`` second (``None``: as the AP endpoint's ``end_time``).
    :param clamp: above ``max_size``, serve ``max_size`` entries silently instead of refusing.
    :param refusal_code: the code of a refused size or span: 400001, or 602001 ("value does not match ...").
    """

    order: str = "newest"
    max_size: int = 500
    max_span: int | None = None
    end_inclusive: bool | None = None
    clamp: bool = False
    refusal_code: int = 400001


class _Budget:
    """The server side of the rate limit, counted by arrival time.

    Calls are judged as their handler threads get to them, which need not be the order they arrived in (a thread
    can be scheduled late, and arrival is the kernel's receive time), so the admitted arrivals are kept sorted and
    a call is checked against its neighbours on both sides and against every window it falls into.
    """

    def __init__(self, max_calls: int, period: float, min_interval: float):
        self.max_calls, self.period, self.min_interval = max_calls, period, min_interval
        self._calls: list[float] = []  # admitted arrivals, sorted
        self._lock = threading.Lock()

    def admit(self, now: float) -> str | None:
        """``None`` if a call that arrived at ``now`` fits, else why not: ``gap`` (closer than min_interval to
        another call) or ``window`` (some ``period`` holding it would hold more than ``max_calls``)."""
        with self._lock:
            calls, period = self._calls, self.period
            # kept for two windows after the latest arrival: a thread runs late by milliseconds, not by a window
            del calls[: bisect.bisect_right(calls, max(now, calls[-1] if calls else now) - 2 * period)]
            at = bisect.bisect_left(calls, now)
            before = calls[at - 1] if at else None
            after = calls[at] if at < len(calls) else None
            if (before is not None and now - before < self.min_interval) or (
                after is not None and after - now < self.min_interval
            ):
                return "gap"
            # the busiest window [start, start + period) that holds now starts at now or at an earlier call
            starts = [*calls[bisect.bisect_right(calls, now - period) : at], now]
            if any(
                bisect.bisect_left(calls, start + period) - bisect.bisect_left(calls, start) >= self.max_calls
                for start in starts
            ):
                return "window"
            calls.insert(at, now)
            return None


_RECENT_PAGES = 1000


@dataclass
class SandboxState:
    """Everything the server knows and counts; tests read and change it in-process or over /__sandbox/."""

    dataset: Dataset
    credentials: Credentials  # the first account (AP with the demo credentials)
    us_credentials: Credentials | None = None  # the second, US account (default: a copy of DEMO_US)
    us_dataset: UsDataset | None = None  # its entries (default: generated from dataset's spec, by create_at)
    us: UsOptions = field(default_factory=UsOptions)
    rate_limit: bool = True
    max_calls: int = RATE_LIMIT_CALLS
    period: float = RATE_LIMIT_PERIOD
    min_interval: float = RATE_LIMIT_MIN_INTERVAL
    faults: FaultPlan = field(default_factory=FaultPlan)
    expire_token_after: int | None = None
    token_faults: list[int | str] = field(default_factory=list)  # the token endpoint's next answers: faults
    latency: float = 0.0
    as_of: int | None = None
    as_of_after_request: int | None = None
    drift: DriftSpec = field(default_factory=DriftSpec)
    # whether a call's end_time second is served (the live API's choice is undocumented; inclusive as before)
    end_inclusive: bool = True
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen_signatures: set[str] = set()
        self._budgets: dict[str, _Budget] = {}
        # (app key, start_time) -> the largest end_time asked with them: one paging run's calls share its view
        self._run_ends: dict[tuple[str, int], int] = {}
        us_credentials = self.us_credentials or DEMO_US.fresh()
        self.accounts = {c.app_key: Account(c) for c in (us_credentials, self.credentials)}
        self.us_app_key = us_credentials.app_key
        self.us_dataset = self.us_dataset or UsDataset(self.dataset.spec)
        self.history = History(self.dataset, self.drift)
        self.us_history = History(self.us_dataset, self.drift)
        self.tick = 0  # pages served by any data endpoint: the clock of drift and of its ground truth
        self.stats = {
            "calls": 0,
            "pages_served": 0,
            "records_served": 0,
            "rejected_rate_limit": 0,
            "token_requests": 0,
            "rate_limit_reasons": {},
            "rejected_auth": 0,
            "rejected_replay": 0,
            "rejected_params": 0,
            "rejected_region": 0,  # a call to the other data centre's endpoint, or routed there by x-dc-region
            "faults": {},
            "authenticated_calls": 0,
            # [arrived, answered] of the last pages served, on the server's monotonic clock: the gaps between one
            # answer and the next arrival are the client's turn, which the benchmarks compare
            "recent_pages": [],
        }

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def count_reason(self, reason: str) -> None:
        with self._lock:
            reasons = self.stats["rate_limit_reasons"]
            reasons[reason] = reasons.get(reason, 0) + 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self.stats["faults"][kind] = self.stats["faults"].get(kind, 0) + 1

    def page_answered(self, arrived: float, answered: float) -> None:
        with self._lock:
            recent = self.stats["recent_pages"]
            recent.append([round(arrived, 6), round(answered, 6)])
            del recent[:-_RECENT_PAGES]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self.stats))
            copy["tick"] = self.tick
        copy["drift"] = self.history.counts()
        copy["us_drift"] = self.us_history.counts()
        return copy

    def next_tick(self) -> int:
        """The tick of the page about to be served (1 for the first)."""
        with self._lock:
            self.tick += 1
            return self.tick

    def upper_bound(self, end_time: int, *, us: bool = False) -> int:
        """The newest second a call with this ``end_time`` (the US ``end``) is served: inclusive or exclusive."""
        inclusive = self.end_inclusive if not us or self.us.end_inclusive is None else self.us.end_inclusive
        return end_time if inclusive else end_time - 1

    def view_for(self, app_key: str, start_time: int, end_time: int) -> int | None:
        """The "as of" moment a cash-flow call sees (``None``: the wall clock's now).

        ``as_of_after_request`` ties the view to the run: each run of a backfill then sees its interval as it
        looked that long after the interval ended, without a test changing the clock between runs. A paging run
        keeps its ``start_time`` and asks smaller ``end_time``s as it goes (the time cursor), so its calls see the
        view of the largest ``end_time`` asked with that start: one view for the whole run, as a run at one moment
        has. Setting ``as_of_after_request`` again forgets the runs seen.
        """
        if self.as_of_after_request is not None:
            with self._lock:
                key = (app_key, start_time)
                run_end = self._run_ends[key] = max(end_time, self._run_ends.get(key, end_time))
            return run_end + self.as_of_after_request
        if self.as_of is not None:
            return self.as_of
        return int(time.time())

    def set_as_of_after_request(self, after: int | None) -> None:
        with self._lock:
            self.as_of_after_request = after
            self._run_ends.clear()

    def budget(self, app_key: str) -> _Budget:
        with self._lock:
            if app_key not in self._budgets:
                self._budgets[app_key] = _Budget(self.max_calls, self.period, self.min_interval)
            return self._budgets[app_key]

    def remember_signature(self, signature: str) -> bool:
        """False if the signature was seen before (a replay)."""
        with self._lock:
            if signature in self._seen_signatures:
                return False
            self._seen_signatures.add(signature)
            return True

    def account(self, app_key: str) -> Account | None:
        return self.accounts.get(app_key)

    def next_token_fault(self) -> int | str | None:
        """The fault the token endpoint gives this request (an HTTP status, or ``"reset"``), if one is queued."""
        with self._lock:
            return self.token_faults.pop(0) if self.token_faults else None

    def expire_current_tokens(self) -> None:
        for account in self.accounts.values():
            account.expire()

    def issue_token(self, token: str | None = None, app_key: str | None = None) -> str:
        """A new valid access token for ``app_key``'s account (default: the first); the old ones stop at once."""
        return self.accounts[app_key or self.credentials.app_key].issue_token(token)

    def set_drift(self, spec: DriftSpec) -> None:
        self.history.set_spec(spec)
        self.us_history.set_spec(spec)

    def set_us_time_field(self, time_field: str) -> None:
        """Filter the US window on ``create_at`` or ``done_at``: a new history, drift's changes dropped."""
        assert self.us_dataset is not None
        self.us_dataset = UsDataset(self.us_dataset.spec, time_field)
        self.us_history = History(self.us_dataset, self.us_history.spec)

    def after_authenticated_call(self) -> None:
        with self._lock:
            self.stats["authenticated_calls"] += 1
            due = self.expire_token_after is not None and self.stats["authenticated_calls"] >= self.expire_token_after
        if due:
            self.expire_token_after = None
            self.expire_current_tokens()
