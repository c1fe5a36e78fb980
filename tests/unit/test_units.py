"""The small pieces alone: windows, pagination, retry policy, rate limiter, timestamp clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from hypothesis import given, strategies as st

from airflow_provider_cashflow.client.auth import _TimestampClock
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortConfigError, LongPortTransportError
from airflow_provider_cashflow.client.pagination import iter_pages, iter_pages_pipelined
from airflow_provider_cashflow.domain.query import validate_page_size
from airflow_provider_cashflow.client.ratelimit import RateLimiter, shared_limiter
from airflow_provider_cashflow.client.retry import RetryPolicy, parse_retry_after
from airflow_provider_cashflow.sandbox.faults import FaultPlan
from airflow_provider_cashflow.domain.windows import Window

UTC = timezone.utc


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


# windows ---------------------------------------------------------------------------------------------------

def test_naive_datetimes_are_refused_with_advice() -> None:
    with pytest.raises(LongPortConfigError, match="naive datetime.*timezone-aware"):
        Window.of(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))


def test_reversed_and_empty_windows_say_why() -> None:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(LongPortConfigError, match="reversed"):
        Window.of(start, start - timedelta(days=1))
    with pytest.raises(LongPortConfigError, match="CronDataIntervalTimetable"):
        Window.of(start, start)


def test_window_is_normalised_to_utc_and_half_open() -> None:
    hk = timezone(timedelta(hours=8))
    w = Window.of(datetime(2026, 1, 2, 8, tzinfo=hk), datetime(2026, 1, 3, 8, tzinfo=hk))
    assert w.start == datetime(2026, 1, 2, tzinfo=UTC) and w.start.tzinfo is UTC
    assert w.contains(w.start) and not w.contains(w.end)
    assert w.request_bounds() == (int(w.start.timestamp()), int(w.end.timestamp()))


@given(
    start=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
)
def test_days_tile_the_window_exactly(start: datetime, length: timedelta) -> None:
    window = Window.of(start, start + length)
    days = list(window.days())
    assert days[0].end == window.end and days[-1].start == window.start
    for newer, older in zip(days, days[1:]):
        assert older.end == newer.start  # no gap, no overlap
    for day in days:
        assert day.start.date() == (day.end - timedelta(microseconds=1)).date()
        assert day.start.time() == datetime.min.time() or day.start == window.start


# pagination ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("total,size", [(0, 5), (4, 5), (5, 5), (23, 5), (1, 1), (3, 1), (40, 2)])
def test_pages_until_a_short_page(total: int, size: int, pipelined: bool) -> None:
    data = list(range(total))
    asked: list[int] = []

    def fetch(page: int, sent: Callable[[], None] | None = None) -> list[int]:
        asked.append(page)
        return data[(page - 1) * size: page * size]

    if pipelined:
        pages = iter_pages_pipelined(fetch, lambda rows: len(rows) >= size, lambda page, rows: rows, size)
    else:
        pages = iter_pages(fetch, size)
    got = [x for rows in pages for x in rows]
    assert got == data
    assert sorted(asked) == list(range(1, total // size + 2))  # the minimum: ceil, plus one empty page if exactly full


def test_pipelined_paging_reads_at_most_one_page_ahead() -> None:
    import threading

    asked: list[int] = []
    consumed: list[int] = []
    done = threading.Event()

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        asked.append(page)
        sent()
        return [page, page]

    pages = iter_pages_pipelined(fetch, lambda rows: True, lambda page, rows: rows, 2)
    for rows in pages:
        consumed.append(rows[0])
        time.sleep(0.01)  # a slow consumer: the fetcher must wait for it, not run ahead
        assert max(asked) <= consumed[-1] + 2
        if len(consumed) == 20:
            break
    done.set()


@pytest.mark.parametrize("says_when_sent", [True, False])
def test_a_page_is_decoded_only_once_the_next_request_has_left(says_when_sent: bool) -> None:
    import threading

    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        time.sleep(0.002)  # signing and connecting
        if says_when_sent:  # a proxy connection does not say; the pager must then wait for the whole call
            with lock:
                events.append(("left", page))
            sent()
        time.sleep(0.01)  # the server's work
        return [page] * 3 if page < 6 else [page]

    def decode(page: int, rows: list[int]) -> list[int]:
        with lock:
            events.append(("decode", page))
        return rows

    got = [x for rows in iter_pages_pipelined(fetch, lambda rows: len(rows) == 3, decode, 3) for x in rows]
    assert got == [p for p in range(1, 6) for _ in range(3)] + [6]
    if says_when_sent:
        for page in range(1, 6):
            assert events.index(("left", page + 1)) < events.index(("decode", page)), events


def test_stopping_early_sends_nothing_more_and_leaves_no_fetcher_waiting() -> None:
    import threading

    asked: list[int] = []

    def fetch(page: int, sent: Callable[[], None]) -> list[int]:
        asked.append(page)
        if page >= 3:
            time.sleep(0.05)  # still on its way when the caller stops
        sent()
        return [page, page]

    pages = iter_pages_pipelined(fetch, lambda rows: True, lambda page, rows: rows, 2)
    assert next(pages) == [1, 1] and next(pages) == [2, 2]
    started = time.monotonic()
    pages.close()
    assert time.monotonic() - started < 1
    assert max(asked) <= 4 and not [t for t in threading.enumerate() if t.name.startswith("longport-fetch")]


@pytest.mark.parametrize("bad", [0, 10001, -1, 2.5, "50", True])
def test_page_size_bounds(bad: object) -> None:
    with pytest.raises(ValueError, match="1 to 10000"):
        validate_page_size(bad)  # type: ignore[arg-type]


# retry policy ----------------------------------------------------------------------------------------------

def test_retry_classification() -> None:
    policy = RetryPolicy(max_attempts=5, max_elapsed=100)
    for code in (429001, 429002, 500000, 403202):
        assert policy.next_delay(1, 0, LongPortAPIError(code, "x"), None) is not None
    for code in (403201, 403203, 403205, 401003, 401004, 400001):
        assert policy.next_delay(1, 0, LongPortAPIError(code, "x"), None) is None
    assert policy.next_delay(1, 0, LongPortTransportError("reset"), None) is not None
    assert policy.next_delay(5, 0, LongPortTransportError("reset"), None) is None  # attempts spent
    assert policy.next_delay(1, 99.9, LongPortTransportError("reset"), None) is None  # time spent


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert policy.backoff(1, retry_after=7) >= 7
    assert parse_retry_after("3") == 3 and parse_retry_after(None) is None and parse_retry_after("Wed, 21 Oct") is None


# rate limiter ----------------------------------------------------------------------------------------------

def test_limiter_keeps_any_30_s_under_30_calls_and_is_not_slower() -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)  # the default margins
    stamps = []
    for _ in range(61):
        limiter.acquire()
        stamps.append(fake.now)
    for i in range(len(stamps) - 30):
        assert stamps[i + 30] - stamps[i] >= 30.0
    assert all(b - a >= 0.02 for a, b in zip(stamps, stamps[1:]))
    assert stamps[29] - stamps[0] < 30 * 0.08  # a burst is paced by the gap, not spread over the window
    elapsed = stamps[-1] - stamps[0]
    assert 60.0 <= elapsed <= 61.0, elapsed  # the ideal is 60 s, plus the two 0.25 s margins


def test_a_zero_min_interval_turns_the_gap_off_but_not_the_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(3, 1.0, 0.0, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(4):
        limiter.acquire()
        stamps.append(fake.now)
    assert stamps[:3] == [stamps[0]] * 3  # a burst goes at once
    assert stamps[3] - stamps[0] >= 1.0  # the window still holds


def test_penalty_holds_every_sharer() -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()
    limiter.penalize(5.0)
    start = fake.now
    limiter.acquire()
    assert fake.now - start == pytest.approx(5.0, abs=0.01)


def test_limiter_is_shared_per_app_key() -> None:
    assert shared_limiter("key-a") is shared_limiter("key-a")
    assert shared_limiter("key-a") is not shared_limiter("key-b")


def test_timestamps_never_repeat_for_the_same_request() -> None:
    fake = FakeTime()
    fake.now = 1_700_000_000.3
    clock = _TimestampClock(clock=fake.clock, sleep=fake.sleep)
    first = clock.stamp("GET /x?page=1")
    other = clock.stamp("GET /x?page=2")
    again = clock.stamp("GET /x?page=1")
    assert first == other == "1700000000"
    assert again == "1700000001"


def test_processes_of_one_machine_share_the_budget(tmp_path) -> None:
    """Airflow runs each task in its own process: their calls together must fit the window."""
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from airflow_provider_cashflow.client.ratelimit import RateLimiter\n"
        f"limiter = RateLimiter(5, 1.0, 0.02, margin=0.01, shared_file={str(tmp_path / 'calls')!r})\n"
        "for _ in range(6):\n"
        "    limiter.acquire(); print(time.time(), flush=True)\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    stamps = sorted(float(line) for w in workers for line in w.communicate(timeout=60)[0].split())
    assert all(w.returncode == 0 for w in workers) and len(stamps) == 12
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 1.0  # never 6 calls in one second, across both processes
    assert stamps[-1] - stamps[0] < 3.0  # 12 calls at 5 per second need just over 2 s, not more


def test_a_penalty_does_not_forget_the_calls_in_the_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)
    first = fake.now
    for _ in range(30):
        limiter.acquire()
    limiter.penalize(1.0)  # an injected 429 with Retry-After: 1
    limiter.acquire()
    assert fake.now >= first + 30.0  # still bound by the 30 calls made before the penalty


def test_the_shared_window_forgets_calls_older_than_the_period(tmp_path) -> None:
    fake = FakeTime()
    path = tmp_path / "calls"
    limiter = RateLimiter(100000, 1.0, 0.0, shared_file=str(path), clock=fake.clock, sleep=fake.sleep)
    for _ in range(50):
        limiter.acquire()
        fake.now += 0.5
    assert len(path.read_text().split()) <= 1 + 3  # the hold, and the calls of the last second only


@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=20)),
    offsets=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=60),
)
def test_split_by_day_puts_every_record_on_its_day_in_order(start, length, offsets) -> None:
    from airflow_provider_cashflow.domain.models import CashFlow, Direction
    from airflow_provider_cashflow.output.partitions import split
    from decimal import Decimal

    window = Window.of(start, start + length)
    # the API's order; timedelta rounding can land a moment on the excluded end, which the client drops
    moments = sorted((m for m in (window.start + length * f for f in offsets) if window.contains(m)), reverse=True)
    flows = [CashFlow("x", Direction.INFLOW, None, Decimal(1), "USD", m, None, "") for m in moments]
    parts = [(part, list(records)) for part, records in split(window, flows, "day")]
    assert [p for p, _ in parts] == list(window.days())  # every day, empty ones too, newest first
    assert [r for _, records in parts for r in records] == flows  # nothing lost, doubled or reordered
    for part, records in parts:
        assert all(part.contains(r.business_time) for r in records)


def test_an_unknown_fault_kind_is_refused_with_every_kind_the_sandbox_knows() -> None:
    for attempt in (lambda: FaultPlan(kinds=("nope",)), lambda: FaultPlan().schedule("nope")):
        with pytest.raises(ValueError, match="nope") as error:
            attempt()
        assert "stall" in str(error.value) and "type_drift" in str(error.value)
    FaultPlan(kinds=("type_drift",)).schedule("missing_field", "5xx")  # data faults are known kinds too
