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
def connected() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        with client, server:
            yield client, server


def test_a_request_read_late_is_stamped_when_it_arrived_and_left_unread(
    connected: tuple[socket.socket, socket.socket],
) -> None:
    client, server = connected
    assert _enable_receive_stamps(server)
    before = time.monotonic()
    client.sendall(b"GET /v1/asset/cashflow HTTP/1.1\r\n\r\n")
    after = time.monotonic()
    time.sleep(0.5)  # a handler thread that a loaded machine scheduled half a second late
    stamped = _arrival(server)
    assert before - 0.01 <= stamped <= after + 0.01, (before, stamped, after)
    assert server.recv(100).startswith(b"GET /v1/asset/cashflow")  # only peeked: the request is read whole


def test_each_request_of_a_kept_alive_connection_gets_its_own_stamp(
    connected: tuple[socket.socket, socket.socket],
) -> None:
    client, server = connected
    assert _enable_receive_stamps(server)
    stamps = []
    for _ in range(2):
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        sent = time.monotonic()
        time.sleep(0.3)
        stamps.append((sent, _arrival(server)))
        server.recv(100)
    (first_sent, first), (second_sent, second) = stamps
    assert abs(first - first_sent) < 0.01 and abs(second - second_sent) < 0.01, stamps
    assert second - first >= 0.29  # the second stamp is the second request's, not the connection's first
