"""Credentials never leave the process in clear text: plain http is refused for any host but loopback.

A capture proxy on loopback, reached through HTTP_PROXY / HTTPS_PROXY, records every request that would have
left; a control call proves the hook really goes through it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.client.auth import SignatureAuth
from airflow_provider_cashflow.client.base_url import is_loopback
from airflow_provider_cashflow.client.client import LongPortClient
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import Sandbox

from conftest import DAY, END, UNLIMITED, set_connection, truth
from operator_support import run_operator

PLAIN_HTTP_HOSTS = [
    "http://openapi.longportapp.com",  # the real API with a one-letter typo of the scheme
    "http://10.1.2.3:8080",  # a proxy someone forgot about
    "http://127.0.0.1.nip.io",  # looks like loopback, resolves anywhere
    "http://localhost.example.com",
    "http://[2001:db8::1]:8080",
]


class CaptureProxy:
    """An HTTP proxy on a free loopback port that answers 502 to everything and remembers what it was asked."""

    def __init__(self) -> None:
        seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _capture(self) -> None:
                seen.append(f"{self.command} {self.path}")
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_HEAD = do_CONNECT = _capture

            def log_message(self, *args: Any) -> None:
                pass

        self.seen = seen
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[CaptureProxy]:
    capture = CaptureProxy()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, capture.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield capture
    finally:
        capture.stop()


def _connection(host: str) -> dict:
    return {"conn_type": "longport", "host": host, "login": "app-key", "password": "app-secret-value",
            "extra": {"access_token": "access-token-value", "max_attempts": 1}}


def test_the_hook_goes_through_the_capture_proxy(proxy: CaptureProxy, monkeypatch) -> None:
    """The control: an https host is allowed and its CONNECT reaches the proxy, so silence below means something."""
    set_connection(monkeypatch, "longport_tls", _connection("https://openapi.example.test"))
    ok, message = CashflowHook("longport_tls").test_connection()
    assert not ok and "access-token-value" not in message
    assert any(line.startswith("CONNECT openapi.example.test:443") for line in proxy.seen), proxy.seen


@pytest.mark.parametrize("host", PLAIN_HTTP_HOSTS)
def test_plain_http_to_a_remote_host_sends_nothing(proxy: CaptureProxy, monkeypatch, host: str) -> None:
    set_connection(monkeypatch, "longport_plain", _connection(host))
    advice = r"plain http://.*clear text; use https://"

    ok, message = CashflowHook("longport_plain").test_connection()
    assert not ok and "use https://" in message and "clear text" in message
    with pytest.raises(LongPortConfigError, match=advice):
        list(CashflowHook("longport_plain").iter_cash_flows(END - DAY, END))
    with pytest.raises(LongPortConfigError, match=advice):
        CashflowHook("longport_plain").get_cash_flow_page(END - DAY, END)
    with pytest.raises(AirflowFailException, match=advice):
        run_operator(END - DAY, END, longport_conn_id="longport_plain")
    # the Airflow-free client refuses it too, for users who build it themselves
    with pytest.raises(LongPortConfigError, match=advice):
        LongPortClient(host, SignatureAuth("app-key", "app-secret-value", "access-token-value"))
    oauth = {**_connection(host), "password": ""}
    oauth["extra"] = {**oauth["extra"], "refresh_token": "refresh-token-value"}
    set_connection(monkeypatch, "longport_oauth", oauth)
    with pytest.raises(LongPortConfigError, match=advice):
        CashflowHook("longport_oauth").client  # noqa: B018 - the token refresher would post to the same host
    assert proxy.seen == []


@pytest.mark.parametrize(
    "name", ["127.0.0.1", "127.3.2.1", "localhost", "LOCALHOST", "[::1]", "::1", "::ffff:127.0.0.1"]
)
def test_loopback_names(name: str) -> None:
    assert is_loopback(name)


@pytest.mark.parametrize("name", ["10.0.0.1", "0.0.0.0", "::", "127.0.0.1.nip.io", "localhost.example.com", "", None])
def test_not_loopback_names(name: str | None) -> None:
    assert not is_loopback(name)


@pytest.mark.parametrize("loopback", ["127.0.0.1", "localhost"])
def test_the_sandbox_on_loopback_keeps_working_over_plain_http(sandbox: Sandbox, monkeypatch, loopback: str) -> None:
    conn = sandbox.connection(**UNLIMITED)
    conn["host"] = conn["host"].replace("127.0.0.1", loopback)
    set_connection(monkeypatch, "longport_loopback", conn)
    start, end = END - 2 * DAY, END
    got = [r.to_dict()["transaction_flow_name"] for r in CashflowHook("longport_loopback").iter_cash_flows(start, end)]
    assert got == [r["transaction_flow_name"] for r in truth(sandbox.dataset, start, end)] and got


def test_certificate_verification_cannot_be_turned_off(sandbox: Sandbox, monkeypatch) -> None:
    for value in ("false", "0", "off"):
        set_connection(monkeypatch, "longport_noverify", sandbox.connection(ca_bundle=value))
        with pytest.raises(LongPortConfigError, match="verification cannot be turned off"):
            CashflowHook("longport_noverify").client  # noqa: B018
    assert sandbox.state.snapshot()["calls"] == 0
