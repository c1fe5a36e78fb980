"""A clock and a sleep that only move when told: rate limits and backoffs tested without waiting."""

from __future__ import annotations


class FakeTime:
    """``clock()`` reads the fake time; ``sleep(s)`` advances it by ``s`` at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
