"""The call sent ahead: taken only by the very call it is, dropped otherwise, its failure raised where it is taken."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import pytest

from airflow_provider_cashflow.client.envelope import RawAnswer
from airflow_provider_cashflow.client.paced_session import CallStats
from airflow_provider_cashflow.client.page_ahead import PageAhead
from airflow_provider_cashflow.errors import LongPortTransportError


class Server:
    """A round trip that answers each call with its own parameters, on whichever thread sends it."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[dict[str, str], str]] = []
        self.fail = fail
        self.release = threading.Event()
        self.release.set()

    def send(self, params: Mapping[str, str], on_turn: Callable[[], None]) -> RawAnswer:
        on_turn()
        self.release.wait(5)
        self.calls.append((dict(params), threading.current_thread().name))
        if self.fail:
            raise LongPortTransportError("GET /v1/asset/cashflow failed: ConnectionError")
        return RawAnswer("/v1/asset/cashflow", 200, {}, repr(sorted(params.items())).encode())


def test_the_call_sent_ahead_is_taken_by_the_same_call_once() -> None:
    server = Server()
    ahead = PageAhead(server.send, CallStats())
    ahead.start({"page": "1", "end_time": "9"})
    answer = ahead.take({"page": "1", "end_time": "9"})
    assert answer is not None and answer.body == repr([("end_time", "9"), ("page", "1")]).encode()
    assert ahead.take({"page": "1", "end_time": "9"}) is None  # taken once: a retry sends again
    assert [name.startswith("longport-page-ahead") for _, name in server.calls] == [True]
    ahead.close()


def test_a_call_no_one_asks_for_is_waited_for_and_dropped() -> None:
    server = Server()
    server.release.clear()  # the call is on its way, not yet answered
    ahead = PageAhead(server.send, CallStats())
    ahead.start({"end_time": "9"})
    threading.Timer(0.2, server.release.set).start()
    assert ahead.take({"end_time": "8"}) is None  # returns once the other call is over: one call at a time
    assert [params for params, _ in server.calls] == [{"end_time": "9"}]
    ahead.close()


def test_a_failed_call_sent_ahead_raises_where_it_is_taken_so_the_retries_see_it() -> None:
    ahead = PageAhead(Server(fail=True).send, CallStats())
    ahead.start({"end_time": "9"})
    with pytest.raises(LongPortTransportError, match="ConnectionError"):
        ahead.take({"end_time": "9"})
    ahead.close()


def test_close_waits_for_a_call_on_its_way_and_ends_the_thread() -> None:
    server = Server()
    server.release.clear()
    ahead = PageAhead(server.send, CallStats())
    ahead.start({"end_time": "9"})
    threading.Timer(0.2, server.release.set).start()
    ahead.close()
    assert len(server.calls) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("longport-page-ahead")]
