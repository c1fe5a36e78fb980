"""Credentials never leave the process in clear text: plain http is refused for any host but loopback.

A capture proxy on loopback, reached through HTTP_PROXY / HTTPS_PROXY, records every request that would have
left; a control call proves the hook really goes through it.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cashflow.client.auth import OAuthRefresher, SignatureAuth
from airflow_provider_cashflow.client.base_url import is_loopback
from airflow_provider_cashflow.client.longport_client import LongPortClient
from airflow_provider_cashflow.errors import LongPortConfigError
from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.sandbox import Dataset, Sandbox
from tests.helpers.connections import longport_connection, set_connection
from tests.helpers.data import DAY, END, SPEC, UNLIMITED, raw
from tests.helpers.operator import run_operator

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
    return longport_connection(
        host, login="app-key", password="app-secret-value", access_token="access-token-value", max_attempts=1
    )


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
    # the Airflow-free client and its OAuth refresher refuse it too, for users who build them themselves
    with pytest.raises(LongPortConfigError, match=advice):
        OAuthRefresher(f"{host}/oauth2/token", "app-key", "refresh-token-value")
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
    assert got == [r["transaction_flow_name"] for r in raw(sandbox, start, end)] and got


def test_certificate_verification_cannot_be_turned_off(sandbox: Sandbox, monkeypatch) -> None:
    for value in ("false", "0", "off"):
        set_connection(monkeypatch, "longport_noverify", sandbox.connection(ca_bundle=value))
        with pytest.raises(LongPortConfigError, match="verification cannot be turned off"):
            CashflowHook("longport_noverify").client  # noqa: B018
    assert sandbox.state.snapshot()["calls"] == 0


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no default trust store knows, as a private CA would issue."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test proxy CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "proxy-ca.pem", folder / "proxy-ca.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, Path, dict]]:
    """The sandbox behind TLS with a certificate of its own CA; yields it, the CA's PEM and a connection."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Sandbox(Dataset(SPEC), rate_limit=False)
    http_server = server._server  # the listening socket is wrapped before the first accept
    http_server.socket = context.wrap_socket(http_server.socket, server_side=True)
    with server:
        conn = server.connection(**UNLIMITED, timeout=5, max_attempts=1)
        conn["host"] = conn["host"].replace("http://", "https://")
        yield server, cert, conn


def test_an_unknown_ca_is_refused_by_default(tls_sandbox, monkeypatch) -> None:
    server, _, conn = tls_sandbox
    set_connection(monkeypatch, "longport_tls", conn)
    ok, message = CashflowHook("longport_tls").test_connection()
    assert not ok and "SSLError" in message, message
    assert server.state.snapshot()["calls"] == 0  # the handshake failed: no request reached the API


def test_the_ca_bundle_extra_trusts_a_private_ca_and_wins_over_the_environment(tls_sandbox, monkeypatch) -> None:
    import certifi

    server, cert, conn = tls_sandbox
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # a store that does not know our CA
    set_connection(monkeypatch, "longport_tls", {**conn, "extra": {**conn["extra"], "ca_bundle": str(cert)}})
    start, end = END - DAY, END
    got = [r.transaction_flow_name for r in CashflowHook("longport_tls").iter_cash_flows(start, end)]
    assert got == [r["transaction_flow_name"] for r in raw(server, start, end)] and got


def test_requests_ca_bundle_is_honoured_without_the_extra(tls_sandbox, monkeypatch) -> None:
    _, cert, conn = tls_sandbox
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    set_connection(monkeypatch, "longport_tls", conn)
    ok, message = CashflowHook("longport_tls").test_connection()
    assert ok, message


def test_a_redirect_is_not_followed_with_the_signed_headers(proxy: CaptureProxy, monkeypatch) -> None:
    """A 307 from the API's host must not carry the signature and app key to where it points."""
    target = proxy.url  # loopback, so only the redirect itself could bring a request there

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"{target}/stolen{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("NO_PROXY", "*")
        set_connection(monkeypatch, "redirecting", _connection(f"http://127.0.0.1:{server.server_address[1]}"))
        ok, message = CashflowHook("redirecting").test_connection()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not ok and "307" in message
    assert proxy.seen == []
