"""The sandbox judges the rate limit by when a call reached its socket, not by when its handler thread woke."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest

from airflow_provider_cashflow.sandbox.server import _arrival, _enable_receive_stamps

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="kernel receive stamps are read on Linux only")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert _enable_receive_stamps(server)
        yield server


def test_a_request_sent_before_its_connection_was_accepted_is_stamped_when_it_arrived(
    listener: socket.socket,
) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        before = time.monotonic()
        client.sendall(b"GET /v1/asset/cashflow HTTP/1.1\r\n\r\n")
        after = time.monotonic()
        time.sleep(0.5)  # a server that a loaded machine let accept and read half a second late
        connection, _ = listener.accept()
        with connection:
            stamped = _arrival(connection)
            assert before - 0.01 <= stamped <= after + 0.01, (before, stamped, after)
            assert connection.recv(100).startswith(b"GET /v1/asset/cashflow")  # only peeked: read whole later


def test_each_request_of_a_kept_alive_connection_gets_its_own_stamp(listener: socket.socket) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        connection, _ = listener.accept()
        with connection:
            spans = []
            for _ in range(2):
                before = time.monotonic()
                client.sendall(b"GET / HTTP/1.1\r\n\r\n")
                after = time.monotonic()
                time.sleep(0.3)
                spans.append((before, _arrival(connection), after))
                connection.recv(100)
    for before, stamped, after in spans:
        assert before - 0.01 <= stamped <= after + 0.01, spans
    assert spans[1][1] - spans[0][1] >= 0.29  # the second stamp is the second request's, not the first's
