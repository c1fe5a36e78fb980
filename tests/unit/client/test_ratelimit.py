"""The client-side rate limiter, in one process and across processes."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_cashflow.client.account_budget import shared_limiter
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from tests.helpers.fake_time import FakeTime


@pytest.fixture
def memory_dir() -> Iterator[Path]:
    """A folder in memory (tmpfs) where the machine has one: the test below bounds the limiter's own time, which
    a write to a file on a busy disk must not add to (it waited a fifth of a second for the ext4 journal, a dozen
    times over, while the store still emptied the file before each write)."""
    shm = Path("/dev/shm")
    path = Path(tempfile.mkdtemp(prefix="cashflow-budget-", dir=shm if shm.is_dir() else None))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_limiter_keeps_any_30_s_under_30_calls_and_is_not_slower() -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, clock=fake.clock, sleep=fake.sleep)  # the default margins
    stamps = []
    for _ in range(61):
        limiter.acquire()
        stamps.append(fake.now)
    for i in range(len(stamps) - 30):
        assert stamps[i + 30] - stamps[i] >= 30.0
    assert all(b - a >= 0.02 for a, b in itertools.pairwise(stamps))
    assert stamps[29] - stamps[0] < 30 * 0.28  # a burst is paced by the gap, not spread over the window
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


def test_processes_of_one_machine_share_the_budget(memory_dir) -> None:
    """Airflow runs each task in its own process: their calls together must fit the window (as granted, under
    the file's lock: the time a process prints them at is its scheduler's business)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from airflow_provider_cashflow.client.ratelimit import RateLimiter\n"
        f"limiter = RateLimiter(5, 1.0, 0.02, margin=0.01, shared_file={str(memory_dir / 'calls')!r})\n"
        "print('ready', flush=True); sys.stdin.readline()\n"
        "for _ in range(6):\n"
        "    limiter.acquire(); print(repr(limiter.store.last_stamp), flush=True)\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    # both start calling together, once each has imported and made its limiter: on a loaded machine one
    # interpreter can start a second after the other, which is no business of the limiter's
    assert [w.stdout.readline().strip() for w in workers if w.stdout] == ["ready", "ready"]
    stamps = sorted(float(line) for w in workers for line in w.communicate("go\n", timeout=60)[0].split())
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


@pytest.mark.parametrize("shared", [False, True], ids=["one process", "file"])
def test_a_call_counts_from_its_answer_so_a_stall_after_the_grant_does_not_crowd_the_next(tmp_path, shared) -> None:
    fake = FakeTime()
    path = str(tmp_path / "calls") if shared else None
    limiter = RateLimiter(3, 10.0, 0.02, margin=0.25, shared_file=path, clock=fake.clock, sleep=fake.sleep)
    grants, answers = [], []
    for _ in range(4):
        with limiter.turn():
            grants.append(fake.now)
            fake.now += 0.5  # the process stalls half a second (a journal commit, a GC) before the call leaves
        answers.append(fake.now)
    # the gap from each answer, and no margin on top: the call had arrived by then
    assert [grants[1] - answers[0], grants[2] - answers[1]] == pytest.approx([0.02, 0.02])
    # the 4th call waited for the 1st's answer plus the window, not for its grant plus the window
    assert grants[3] == pytest.approx(answers[0] + 10.0), (grants, answers)


def test_a_call_on_its_way_holds_other_sharers_off_by_the_margin_and_an_answered_one_by_the_gap(tmp_path) -> None:
    fake = FakeTime()
    path = str(tmp_path / "calls")
    a, b = (RateLimiter(30, 30.0, 0.02, shared_file=path, clock=fake.clock, sleep=fake.sleep) for _ in range(2))
    with a.turn():
        fake.now += 0.01  # a's call takes 10 ms
    answered = fake.now
    with b.turn() as waited:
        assert fake.now == pytest.approx(answered + 0.02) and waited == pytest.approx(0.02)
        granted = fake.now
        # b's call is on its way, and nothing here knows when it reaches the server: a waits out the margin
        assert a.acquire() == pytest.approx(0.25 + 0.02)
        assert fake.now == pytest.approx(granted + 0.27)
    calls = [float(t) for t in Path(path).read_text().split()[1:]]
    # b's answer (now) comes before a's grant plus its margin: the file keeps the calls in order
    assert calls == sorted(calls) and calls[-2] == pytest.approx(fake.now) and calls[-1] > fake.now


def test_a_call_that_failed_still_counts_from_when_it_ended(tmp_path) -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, 30.0, 0.02, shared_file=str(tmp_path / "calls"), clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(OSError), limiter.turn():
        fake.now += 1.0
        raise OSError("reset")  # the request may still have reached the server
    ended = fake.now
    limiter.acquire()
    assert fake.now >= ended + 0.27


def test_a_budget_file_that_cannot_be_written_after_the_call_does_not_cost_its_answer(tmp_path) -> None:
    path = tmp_path / "calls"
    limiter = RateLimiter(30, 30.0, 0.02, shared_file=str(path))
    with limiter.turn():
        path.unlink()
        path.mkdir()  # the file is gone and cannot be opened for writing any more
        answer = "the call's answer"
    assert answer == "the call's answer"  # the block ended normally: nothing raised on the way out
    with pytest.raises(OSError):
        limiter.acquire()  # the next take reports the unusable file


def test_a_grant_whose_write_waited_for_the_disk_is_stamped_when_the_write_ended(tmp_path) -> None:
    from airflow_provider_cashflow.client.ratelimit import _LocalStore

    readings = iter([100.0, 100.3, 100.31])  # the grant, then after a write that took 0.3 s, then after a quick one
    store = _LocalStore(str(tmp_path / "calls"))
    assert store.take(RateLimiter(30, 30.0, 0.02).budget, lambda: next(readings)) == 0
    # another process spaces its call from when this one could leave, plus the margin for its way to the server
    assert store.last_stamp == 100.55
    assert (tmp_path / "calls").read_text().split()[1:] == ["100.550000"]


def test_the_budget_file_reads_its_first_line_only_so_a_torn_rewrite_loses_nothing(tmp_path) -> None:
    fake = FakeTime()
    path = tmp_path / "calls"
    # a process killed between writing a shorter state over a longer one and cutting the file to length
    path.write_text(f"0.000000 {fake.now - 0.01:.6f}\n{fake.now:.6f} 17.5")
    limiter = RateLimiter(30, 30.0, 0.02, margin=0.0, shared_file=str(path), clock=fake.clock, sleep=fake.sleep)
    assert limiter.acquire() == pytest.approx(0.01)  # spaced from the call on the first line only
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and len(lines[0].split()) == 3  # rewritten whole: the hold and the two calls
