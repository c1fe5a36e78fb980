"""Request signing: the timestamps that keep a retry from replaying a signature."""

from __future__ import annotations

from airflow_provider_cashflow.client.auth import _TimestampClock
from tests.helpers.fake_time import FakeTime


def test_timestamps_never_repeat_for_the_same_request() -> None:
    fake = FakeTime()
    fake.now = 1_700_000_000.3
    clock = _TimestampClock(clock=fake.clock, sleep=fake.sleep)
    first = clock.stamp("GET /x?page=1")
    other = clock.stamp("GET /x?page=2")
    again = clock.stamp("GET /x?page=1")
    assert first == other == "1700000000"
    assert again == "1700000001"
