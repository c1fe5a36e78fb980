"""The sandbox's history changing between calls: postings, cancellations, and the ground truth of a run."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec, DriftSpec
from airflow_provider_cashflow.sandbox.control import apply_control
from airflow_provider_cashflow.sandbox.history import History
from airflow_provider_cashflow.sandbox.state import Credentials, SandboxState

END = datetime(2026, 11, 20, tzinfo=UTC)
DATA = Dataset(DatasetSpec(seed=11, days=4, per_day=40, end=END))
START, STOP = DATA.start, DATA.end  # the whole data: [START, STOP)


def offset_pages(history: History, size: int, *, first_tick: int = 1, app_key: str = "k", hi: int = STOP - 1):
    """Today's naive pager: page 1, 2, 3 ... until a short page; returns the rows and the last tick used."""
    rows, page, tick = [], 1, first_tick
    while True:
        got = history.page(
            START, hi, None, None, (page - 1) * size, size, tick=tick, app_key=app_key, window=(START, hi)
        )
        rows += got
        if len(got) < size:
            return rows, tick
        page, tick = page + 1, tick + 1


def key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def test_a_still_history_pages_exactly_the_generated_records_and_its_truth_is_all_throughout() -> None:
    history = History(DATA)
    rows, _ = offset_pages(history, 7)
    assert rows == list(DATA.window(START, STOP)) and len(rows) == len(DATA)
    truth = history.truth(START, STOP)
    assert truth.throughout == rows and truth.came == truth.went == [] and truth.calls == (1, len(DATA) // 7 + 1)
    assert truth.problems(rows) == {}
    assert truth.problems(rows[1:]) == {"lost": Counter({tuple(sorted(rows[0].items())): 1})}


def test_postings_newer_than_the_offset_make_an_offset_pager_read_duplicates() -> None:
    history = History(DATA, DriftSpec(postings=1, placements=("newer",), seed=1))
    rows, last = offset_pages(history, 10)
    truth = history.truth(START, STOP)
    problems = truth.problems(rows)
    assert "lost" not in problems and sum(problems["extra"].values()) >= 5  # records read twice
    assert truth.calls == (1, last) and len(truth.came) == last - 1  # one posting between each two calls
    assert truth.went == [] and len(truth.throughout) == len(DATA)


def test_cancellations_on_pages_already_read_make_an_offset_pager_lose_records() -> None:
    history = History(DATA, DriftSpec(cancellations=1, cancel_placements=("served",), seed=2))
    rows, last = offset_pages(history, 10)
    truth = history.truth(START, STOP)
    problems = truth.problems(rows)
    assert "extra" not in problems and sum(problems["lost"].values()) >= 5
    assert len(truth.went) == last - 1 and truth.came == []
    assert len(truth.throughout) == len(DATA) - len(truth.went)


def test_twins_cursor_and_end_postings_land_where_they_say() -> None:
    for placement in ("twin", "cursor", "end"):
        history = History(DATA, DriftSpec(postings=1, placements=(placement,), seed=3))
        page = history.page(START, STOP - 1, None, None, 0, 5, tick=1, app_key="k", window=(START, STOP - 1))
        (posted,) = history.truth(START, STOP, after=0).came or (history.now(START, STOP) and [None])
        assert posted is None  # a run of one call: nothing came *during* it ...
        (new,) = Counter(map(key, history.now(START, STOP))) - Counter(map(key, DATA.window(START, STOP)))
        new = json.loads(new)  # ... but the history has one record more now
        if placement == "twin":
            assert new in page and int(new["business_time"]) in {int(r["business_time"]) for r in page}
        elif placement == "cursor":  # the oldest second of the page just served
            assert int(new["business_time"]) == min(int(r["business_time"]) for r in page)
            assert new not in page
        else:  # the request's end_time second: an exclusive server never shows it
            assert int(new["business_time"]) == STOP - 1
            assert new not in history.page(
                START, STOP - 2, None, None, 0, 10, tick=2, app_key="k", window=(START, STOP - 2)
            )


def test_the_same_seed_changes_the_same_records_and_another_seed_others() -> None:
    def run(seed: int) -> list[dict]:
        history = History(DATA, DriftSpec(postings=2, cancellations=2, seed=seed))
        return offset_pages(history, 9)[0]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_a_run_is_the_pages_after_a_mark_and_of_one_app_key() -> None:
    history = History(DATA, DriftSpec(postings=1, cancellations=1, seed=4))
    offset_pages(history, 50, first_tick=1, app_key="before")  # ticks 1..4: not part of the run below
    mark = 4
    _rows, last = offset_pages(history, 50, first_tick=5, app_key="mine")
    truth = history.truth(START, STOP, after=mark, app_key="mine")
    assert truth.calls == (5, last)
    assert len(truth.came) == len(truth.went) == last - 5  # one each between the run's own calls
    # a full read after the run holds what existed throughout and what came and stayed, but for the one posting
    # and one cancellation made after the run's last call
    now = Counter(map(key, history.now(START, STOP)))
    assert sum((Counter(map(key, truth.throughout)) - now).values()) <= 1
    assert sum((now - Counter(map(key, truth.throughout + truth.came))).values()) <= 1
    # no page after the mark: nothing came or went, what is there now is the truth
    idle = history.truth(START, STOP, after=last)
    assert idle.calls is None and Counter(map(key, idle.throughout)) == now


def test_a_record_posted_and_cancelled_within_a_run_may_come_back_at_most_once() -> None:
    history = History(DATA, DriftSpec(postings=3, cancellations=3, seed=9))
    rows, _ = offset_pages(history, 25)
    truth = history.truth(START, STOP)
    both = Counter(map(key, truth.came)) & Counter(map(key, truth.went))
    assert not both  # each record is counted once, as it came or as it went
    assert truth.problems(rows + truth.throughout[:1]).get("extra")  # one more than existed: caught


@given(
    postings=st.integers(0, 3),
    cancellations=st.integers(0, 3),
    size=st.sampled_from([1, 7, 40, 500]),
    seed=st.integers(0, 1000),
)
def test_the_truth_agrees_with_what_is_there_before_and_after_any_run(postings, cancellations, size, seed) -> None:
    spec = DriftSpec(postings=postings, cancellations=cancellations, seed=seed, max_pages=30)
    history = History(DATA, spec)
    before = Counter(map(key, history.now(START, STOP)))
    offset_pages(history, size)
    truth = history.truth(START, STOP)
    after = Counter(map(key, history.now(START, STOP)))
    throughout, came, went = (Counter(map(key, part)) for part in (truth.throughout, truth.came, truth.went))
    assert throughout + went == before  # all there was at the first call either stayed or went
    # ... and is there now, with what came, but for the changes made after the run's last call
    assert sum((throughout - after).values()) <= cancellations
    assert sum((after - throughout - came).values()) <= postings
    # a reader that got the whole window in its first call keeps the guarantee
    one_call = History(DATA, spec)
    rows = one_call.page(START, STOP - 1, None, None, 0, 10_000, tick=1, app_key="k", window=(START, STOP - 1))
    assert one_call.truth(START, STOP).problems(rows) == {}


def test_order_options_keep_one_order_from_call_to_call() -> None:
    history = History(DATA)

    def read(order: str) -> list[dict]:
        return [
            r
            for i in range(0, len(DATA), 13)
            for r in history.page(
                START, STOP - 1, None, None, i, 13, tick=1, app_key="k", window=(START, STOP - 1), order=order
            )
        ]

    newest, oldest, shuffled = read("newest"), read("oldest"), read("shuffled")
    assert Counter(map(key, newest)) == Counter(map(key, oldest)) == Counter(map(key, shuffled))
    times = [int(r["business_time"]) for r in oldest]
    assert times == sorted(times) and newest != shuffled != oldest and read("shuffled") == shuffled
    with pytest.raises(ValueError, match="known: newest, oldest, shuffled"):
        read("random")


def test_drift_holds_still_after_max_pages() -> None:
    history = History(DATA, DriftSpec(postings=2, cancellations=1, max_pages=3))
    offset_pages(history, 1)  # reads one record a call, while drift posts two: ends only because drift stops
    assert history.counts() == {"posted": 6, "cancelled": 3}


def test_bad_drift_specs_and_control_keys_are_refused_with_what_is_known() -> None:
    with pytest.raises(ValueError, match="known: newer, inside, cursor, twin, end"):
        DriftSpec(postings=1, placements=("older",))
    with pytest.raises(ValueError, match="every >= 1"):
        DriftSpec(every=0)
    state = SandboxState(dataset=DATA, credentials=Credentials("k", "s", "t", "r"))
    with pytest.raises(ValueError, match="unknown sandbox control keys \\['drfit'\\]"):
        apply_control(state, {"drfit": {"postings": 1}})
    with pytest.raises(ValueError, match="'inclusive' or 'exclusive'"):
        apply_control(state, {"end_time": "open"})
    apply_control(state, {"drift": {"postings": 2, "placements": "twin,end"}, "end_time": "exclusive"})
    assert state.history.spec == DriftSpec(postings=2, placements=("twin", "end"))
    assert state.upper_bound(100) == 99
    apply_control(state, {"drift": None, "end_time": "inclusive"})
    assert not state.history.spec.active and state.upper_bound(100) == 100


def test_drift_and_revisions_together_the_truth_is_the_view_the_calls_saw() -> None:
    from airflow_provider_cashflow.sandbox import RevisionSpec

    revising = Dataset(
        DatasetSpec(
            seed=11,
            days=4,
            per_day=40,
            end=END,
            revisions=RevisionSpec(late_share=0.3, provisional_share=1.0, settle_hours=30),
        )
    )
    as_of = revising.start + 2 * 86400  # late postings of the last two days not in yet, dividends provisional
    history = History(revising, DriftSpec(postings=1, cancellations=1, seed=8))
    rows, page = [], 0
    while True:
        got = history.page(
            START, STOP - 1, None, as_of, page * 10, 10, tick=page + 1, app_key="k", window=(START, STOP - 1)
        )
        rows += got
        page += 1
        if len(got) < 10:
            break
    truth = history.truth(START, STOP, as_of=as_of)
    assert len(truth.throughout) < len(revising)  # the late ones are not there yet, as of then
    assert any(r["business_type"] == 0 for r in truth.throughout)
    lost_or_extra = truth.problems(rows)
    assert set(lost_or_extra) <= {"lost", "extra"} and lost_or_extra  # offset paging drifts here too
    one = History(revising, DriftSpec(postings=1, cancellations=1, seed=8))
    whole = one.page(START, STOP - 1, None, as_of, 0, 10_000, tick=1, app_key="k", window=(START, STOP - 1))
    assert one.truth(START, STOP, as_of=as_of).problems(whole) == {}


def test_one_paging_run_sees_one_view_however_its_cursor_lowers_end_time() -> None:
    state = SandboxState(dataset=DATA, credentials=Credentials("k", "s", "t", "r"))
    apply_control(state, {"as_of_after_request": 3600})
    assert state.view_for("k", 1000, 5000) == 8600  # the run's first call: its window's end
    assert state.view_for("k", 1000, 2000) == 8600  # the cursor's later call, same start: the same view
    assert state.view_for("other", 1000, 2000) == 5600  # another account's run is its own
    apply_control(state, {"as_of_after_request": 3600})  # a new series of runs forgets the old ones
    assert state.view_for("k", 1000, 2000) == 5600
