"""A history that changes *while* a client pages through it: postings and cancellations between calls.

Each page a data endpoint serves is one *tick* of the sandbox (``SandboxState.tick``, shared by the AP and US
endpoints; the first page served is tick 1). After a page is served, and before the next call can see it, the
:class:`DriftSpec` posts and cancels records in the window of the call that was just answered. Every draw comes
from ``random.Random(seed)``, so the same calls against the same spec change the same records.

Where postings land (``placements``, one drawn per posting):

- ``newer``: a new record between the oldest second on the page just served and the call's ``end_time``, i.e.
  newer than the offset: offset paging reads the next page one record too late (a duplicate);
- ``inside``: a new record anywhere in the call's window;
- ``cursor``: a new record in the oldest second on the page just served, the boundary second of a time cursor;
- ``twin``: an identical copy (same second, same fields) of a record on the page just served;
- ``end``: a new record at the call's ``end_time`` second itself, which only an inclusive server shows.

Where cancellations land (``cancel_placements``):

- ``served``: a record on the page just served, newer than the offset: offset paging skips one (a loss);
- ``inside``: any record in the call's window.

Ground truth for a *run* of calls (the ticks from the first to the last page served after a mark, optionally of
one app key): :meth:`History.truth` sorts each record of a half-open window ``[start, end)`` into ``throughout``
(existed from the run's first call to its last: a correct pager returns it exactly once), ``came`` (posted during
the run: at most once) and ``went`` (existed at the first call, cancelled during the run: at most once).
In-process::

    sandbox = Sandbox(dataset, drift=DriftSpec(postings=2, cancellations=1, seed=7)).start()
    mark = sandbox.mark()
    rows = list(hook.iter_cash_flows(start, end, page_size=7))
    truth = sandbox.drift_truth(start_ts, end_ts, after=mark)
    assert not truth.problems(row_dicts)      # {} when the guarantee holds; else "lost"/"extra" Counters

Over HTTP: ``GET /__sandbox/mark`` answers ``{"mark": tick}``; ``GET /__sandbox/drift?start_time=..&end_time=..
&after=MARK[&app_key=..][&endpoint=ap|us][&as_of=..]`` answers ``{"calls": [first, last], "throughout": [...],
"came": [...], "went": [...]}`` (records as the endpoint sends them, window half-open, times as in
``/__sandbox/records``); ``POST /__sandbox/control {"drift": {"postings": 2, ...}}`` sets the spec
(``{"drift": null}`` stops it; the changes already made stay), ``{"drift_reset": true}`` undoes every change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CANCEL_PLACEMENTS", "ORDERS", "POSTING_PLACEMENTS", "DriftSpec", "DriftTruth"]

POSTING_PLACEMENTS = ("newer", "inside", "cursor", "twin", "end")
CANCEL_PLACEMENTS = ("served", "inside")
ORDERS = ("newest", "oldest", "shuffled")


@dataclass(frozen=True)
class DriftSpec:
    """How the history changes between calls; the default (no postings, no cancellations) never changes it.

    :param postings: records posted after each drifting page.
    :param cancellations: records cancelled after each drifting page.
    :param every: drift after every n-th page served (1: after each one).
    :param seed: seeds every draw, so a run repeats.
    :param placements: where postings land, drawn from these (see the module doc).
    :param cancel_placements: which records are cancelled, drawn from these.
    :param max_pages: drift after this many pages at most, then hold still (``None``: no end). A pager that
        reads fewer records per call than drift posts into its window never reaches the end without it.
    """

    postings: int = 0
    cancellations: int = 0
    every: int = 1
    seed: int = 0
    placements: tuple[str, ...] = POSTING_PLACEMENTS
    cancel_placements: tuple[str, ...] = CANCEL_PLACEMENTS
    max_pages: int | None = None

    def __post_init__(self) -> None:
        if self.postings < 0 or self.cancellations < 0 or self.every < 1:
            raise ValueError("drift needs postings >= 0, cancellations >= 0 and every >= 1")
        for chosen, known in ((self.placements, POSTING_PLACEMENTS), (self.cancel_placements, CANCEL_PLACEMENTS)):
            unknown = [p for p in chosen if p not in known]
            if unknown or not chosen:
                raise ValueError(f"unknown or no drift placements {unknown}; known: {', '.join(known)}")

    @property
    def active(self) -> bool:
        return self.postings > 0 or self.cancellations > 0

    @classmethod
    def from_json(cls, spec: dict[str, Any] | None) -> DriftSpec:
        spec = dict(spec or {})
        for key in ("placements", "cancel_placements"):
            if key in spec:
                value = spec[key]
                spec[key] = tuple(value.split(",") if isinstance(value, str) else value)
        return cls(**spec)


@dataclass
class DriftTruth:
    """Which records of a window existed throughout a run of calls, which came and which went.

    ``calls`` is ``[first, last]`` tick of the run (``None`` when no page was served in it: then everything there
    is now counts as ``throughout``).
    """

    calls: tuple[int, int] | None
    throughout: list[dict[str, Any]] = field(default_factory=list)
    came: list[dict[str, Any]] = field(default_factory=list)
    went: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": list(self.calls) if self.calls else None,
            "throughout": self.throughout,
            "came": self.came,
            "went": self.went,
        }

    def problems(
        self, got: Iterable[Any], key: Callable[[dict[str, Any]], Hashable] | None = None
    ) -> dict[str, Counter[Any]]:
        """Where ``got`` breaks the guarantee, as multisets: ``lost`` (records of ``throughout`` missing, or fewer
        times than they existed) and ``extra`` (more often than ``throughout``, ``came`` and ``went`` together
        allow). ``{}`` when it holds. ``key`` maps a truth record onto what ``got`` holds (default: a frozen dict).
        """
        as_key = key or _frozen
        have = Counter(got if key else (_frozen(r) for r in got))
        must = Counter(as_key(r) for r in self.throughout)
        may = must + Counter(as_key(r) for r in (*self.came, *self.went))
        result = {}
        if lost := must - have:
            result["lost"] = lost
        if extra := have - may:
            result["extra"] = extra
        return result


def _frozen(row: Any) -> Hashable:
    return tuple(sorted(row.items())) if isinstance(row, dict) else row
