"""The records an endpoint serves as they stand now: its generated :class:`Source` plus drift's changes.

See :mod:`airflow_provider_cashflow.sandbox.drift` for what changes when, and the ground truth of a run.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_cashflow.sandbox.data import _mix
from airflow_provider_cashflow.sandbox.drift import ORDERS, DriftSpec, DriftTruth
from airflow_provider_cashflow.sandbox.revisions import Revisions

__all__ = ["History", "Source"]


class Source(Protocol):
    """What a data endpoint's generated records offer the drift overlay (``Dataset`` and ``UsDataset``)."""

    def select(self, lo: int, hi: int, filters: Any, as_of: int | None) -> Sequence[int]:
        """Indices of the records with ``lo <= time <= hi`` that match ``filters``, newest first."""
        ...

    def time_of(self, index: int) -> int: ...

    @property
    def revisions(self) -> Revisions | None:
        """Late postings and provisional records on the "as of" clock, or ``None`` (a history that never does)."""
        ...

    def record(self, index: int, as_of: int | None = None) -> dict[str, Any]: ...

    def posting(self, time: int, salt: int) -> dict[str, Any]:
        """A new, realistic record at ``time`` (the filtered time), different for each ``salt``."""
        ...

    def row_time(self, row: dict[str, Any]) -> int:
        """The filtered time of a record the source made."""
        ...

    def matches(self, row: dict[str, Any], filters: Any) -> bool: ...


@dataclass
class _Posted:
    ref: int  # negative, so it never meets a base index
    time: int
    tie: float  # its place among the base records of its second
    row: dict[str, Any]
    came: int  # the tick after which it appeared
    went: int | None = None


class History:
    """A :class:`Source`'s records plus the postings and cancellations of its drift; thread-safe.

    :param source: the generated records.
    :param spec: the drift (default: none).
    """

    def __init__(self, source: Source, spec: DriftSpec | None = None):
        self.source = source
        self._lock = threading.RLock()  # truth() reads now() under it
        self.set_spec(spec or DriftSpec())
        self.reset()

    def set_spec(self, spec: DriftSpec) -> None:
        """A new drift from the next page on; the changes already made stay."""
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self._drifted = 0  # pages after which this spec drifted

    def reset(self) -> None:
        """Undo every posting and cancellation, and forget the pages served so far (a mark from before it sees
        only the pages after it)."""
        with self._lock:
            self._cancelled: dict[int, int] = {}  # base index -> the tick after which it went
            self._posted: list[_Posted] = []
            self._calls: list[tuple[int, str]] = []  # (tick, app key) of every page served
            self._rng = random.Random(self.spec.seed)
            self._drifted = 0

    @property
    def changed(self) -> bool:
        return bool(self._cancelled or self._posted)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "posted": len(self._posted),
                "cancelled": len(self._cancelled) + sum(p.went is not None for p in self._posted),
            }

    # serving ------------------------------------------------------------------------------------------

    def page(
        self,
        lo: int,
        hi: int,
        filters: Any,
        as_of: int | None,
        first: int,
        size: int,
        *,
        tick: int,
        app_key: str,
        window: tuple[int, int],
        order: str = "newest",
    ) -> list[dict[str, Any]]:
        """Records ``first .. first + size`` of those with ``lo <= time <= hi`` as they stand now, in ``order``;
        then, as page ``tick`` of ``app_key``, drifts the history inside ``window`` (the request's bounds)."""
        with self._lock:
            self._calls.append((tick, app_key))
            if not self.changed and order == "newest":
                # the still history's fast path: no list of the whole window, whatever its size
                indices = self.source.select(lo, hi, filters, as_of)
                served = [(i, self.source.record(i, as_of)) for i in indices[first : first + size]]
            else:
                refs = self._ordered(lo, hi, filters, as_of, order)[first : first + size]
                served = [(ref, self._row(ref, as_of)) for ref in refs]
            spec = self.spec
            if spec.active and tick % spec.every == 0 and (spec.max_pages is None or self._drifted < spec.max_pages):
                self._drifted += 1
                self._drift(served, window, tick)
        return [row for _, row in served]

    def _existing(
        self, lo: int, hi: int, filters: Any, as_of: int | None, alive: Callable[[int, int | None], bool]
    ) -> list[tuple[int, float, int]]:
        """(time, tie, ref) of every base and posted record in ``[lo, hi]`` for which ``alive(came, went)``."""
        out = []
        for i in self.source.select(lo, hi, filters, as_of):
            if alive(0, self._cancelled.get(i)):
                out.append((self.source.time_of(i), float(i), i))
        for p in self._posted:
            if lo <= p.time <= hi and alive(p.came, p.went) and self.source.matches(p.row, filters):
                out.append((p.time, p.tie, p.ref))
        return out

    def _row(self, ref: int, as_of: int | None) -> dict[str, Any]:
        return self.source.record(ref, as_of) if ref >= 0 else self._posted[-ref - 1].row

    def _rows(self, found: list[tuple[int, float, int]], as_of: int | None) -> list[dict[str, Any]]:
        """The records of ``found``, newest first (the API's order; the truth's too)."""
        return [self._row(ref, as_of) for *_, ref in sorted(found, key=lambda r: (-r[0], r[1]))]

    def _ordered(self, lo: int, hi: int, filters: Any, as_of: int | None, order: str) -> list[int]:
        found = self._existing(lo, hi, filters, as_of, _alive_now)
        if order == "newest":
            found.sort(key=lambda r: (-r[0], r[1]))
        elif order == "oldest":
            found.sort(key=lambda r: (r[0], r[1]))
        elif order == "shuffled":  # no order at all, yet the same one from call to call
            found.sort(key=lambda r: _shuffle_key(self.spec.seed, r[2]))
        else:
            raise ValueError(f"unknown order {order!r}; known: {', '.join(ORDERS)}")
        return [ref for *_, ref in found]

    # changing -----------------------------------------------------------------------------------------

    def _drift(self, served: list[tuple[int, dict[str, Any]]], window: tuple[int, int], tick: int) -> None:
        rng, spec = self._rng, self.spec
        start, end = window
        served_times = [self._time(ref, row) for ref, row in served]
        oldest = min(served_times) if served_times else start
        for _ in range(spec.postings):
            placement = rng.choice(spec.placements)
            if placement == "twin" and served:
                ref, row = rng.choice(served)
                t, salt_row = self._time(ref, row), dict(row)
            else:
                if placement == "newer":
                    t = rng.randint(oldest, end)
                elif placement == "cursor":
                    t = oldest
                elif placement == "end":
                    t = end
                else:
                    t = rng.randint(start, end)
                salt_row = self.source.posting(t, rng.getrandbits(62))
            self._posted.append(_Posted(-(len(self._posted) + 1), t, self._tie(t, rng), salt_row, came=tick))
        for _ in range(spec.cancellations):
            if rng.choice(spec.cancel_placements) == "served" and served:
                candidates = [ref for ref, _ in served]
            else:
                candidates = [ref for *_, ref in self._existing(start, end, None, None, _alive_now)]
            candidates = [ref for ref in candidates if self._alive(ref)]
            if candidates:
                self._cancel(rng.choice(candidates), tick)

    def _time(self, ref: int, row: dict[str, Any]) -> int:
        return self.source.time_of(ref) if ref >= 0 else self.source.row_time(row)

    def _tie(self, t: int, rng: random.Random) -> float:
        """A place inside second ``t``: before, between or after its base records, at random."""
        same = self.source.select(t, t, None, None)
        if not len(same):
            return rng.random()
        return same[0] - 0.5 + rng.randint(0, len(same)) + rng.random() * 0.001

    def _alive(self, ref: int) -> bool:
        if ref >= 0:
            return ref not in self._cancelled
        return self._posted[-ref - 1].went is None

    def _cancel(self, ref: int, tick: int) -> None:
        if ref >= 0:
            self._cancelled[ref] = tick
        else:
            self._posted[-ref - 1].went = tick

    # ground truth -------------------------------------------------------------------------------------

    def truth(
        self,
        start: int,
        end: int,
        *,
        after: int = 0,
        app_key: str | None = None,
        as_of: int | None = None,
        filters: Any = None,
    ) -> DriftTruth:
        """The records of ``[start, end)`` sorted by their life during the run of pages served after tick
        ``after`` (of ``app_key`` only, if given), newest first (twins kept)."""
        with self._lock:
            ticks = [t for t, key in self._calls if t > after and (app_key is None or key == app_key)]
            if not ticks:
                return DriftTruth(None, throughout=self.now(start, end, as_of, filters))
            first, last = ticks[0], ticks[-1]

            def throughout(came: int, went: int | None) -> bool:
                return came < first and (went is None or went >= last)

            def came_in_run(came: int, went: int | None) -> bool:
                return first <= came < last

            def went_in_run(came: int, went: int | None) -> bool:
                return came < first and went is not None and first <= went < last

            return DriftTruth(
                (first, last),
                throughout=self._rows(self._existing(start, end - 1, filters, as_of, throughout), as_of),
                came=self._rows(self._existing(start, end - 1, filters, as_of, came_in_run), as_of),
                went=self._rows(self._existing(start, end - 1, filters, as_of, went_in_run), as_of),
            )

    def now(self, start: int, end: int, as_of: int | None = None, filters: Any = None) -> list[dict[str, Any]]:
        """The records of ``[start, end)`` as they stand now, newest first."""
        with self._lock:
            return self._rows(self._existing(start, end - 1, filters, as_of, _alive_now), as_of)


def _alive_now(came: int, went: int | None) -> bool:
    return went is None


def _shuffle_key(seed: int, ref: int) -> int:
    return _mix(seed * 1_000_033 + ref)
