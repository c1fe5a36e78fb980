"""Data-centre routing: the account's region from its credentials or the connection, the x-dc-region header on
every request (the POST's body hash signed), and the refusals that come before any call."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest
import requests

from airflow_provider_cashflow.client.auth import BearerAuth, SignatureAuth, _TimestampClock, canonical_request, sign
from airflow_provider_cashflow.client.settings import LongPortSettings, credentials_region
from airflow_provider_cashflow.errors import DataCentreError, LongPortConfigError


def conn(login: str = "key", password: str = "secret", token: str = "token", host: str = "", **extra: object):
    return SimpleNamespace(
        conn_id="acct",
        host=host,
        port=None,
        login=login,
        password=password,
        extra_dejson={"access_token": token, **extra},
    )


@pytest.mark.parametrize(
    ("key", "secret", "token", "region", "why"),
    [
        ("key", "secret", "token", "ap", "no credential"),
        ("us_key", "secret", "token", "us", "app key"),
        ("key", "us_secret", "token", "us", "app secret"),
        ("key", "secret", "us_token", "us", "access token"),
        ("key", "secret", "Bearer us_token", "us", "access token"),
        ("key", "secret", "token_us_", "ap", "no credential"),  # a prefix, not anywhere in the text
        ("us_client", "", "token", "ap", "no credential"),  # OAuth: the client id does not count
        ("client", "", "us_token", "us", "access token"),
        ("client", "", "Bearer us_token", "us", "access token"),
    ],
)
def test_region_is_read_from_the_credentials_as_the_sdk_reads_it(key, secret, token, region, why) -> None:
    got, reason = credentials_region(key, secret, token)
    assert got == region and why in reason


def test_the_connection_extra_forces_the_region_and_a_bad_value_says_what_to_use() -> None:
    assert LongPortSettings.from_connection(conn(token="us_t")).dc_region == "us"
    forced = LongPortSettings.from_connection(conn(token="t", dc_region="us"))
    assert (forced.dc_region, forced.dc_region_reason) == ("us", "the connection extra dc_region='us' says so")
    with pytest.raises(DataCentreError, match=r"dc_region='ap' .*contradicts the credentials: its access token starts"):
        LongPortSettings.from_connection(conn(token="us_t", dc_region="ap"))
    assert LongPortSettings.from_connection(conn(dc_region="US")).dc_region == "us"
    assert LongPortSettings.from_connection(conn(extra__longport__dc_region="us")).dc_region == "us"  # Airflow < 3.2
    assert LongPortSettings.from_connection(conn(dc_region="auto")).dc_region == "ap"
    assert LongPortSettings.from_connection(conn(dc_region="")).dc_region == "ap"
    with pytest.raises(LongPortConfigError, match="dc_region' must be one of auto, ap, us, got 'eu'"):
        LongPortSettings.from_connection(conn(dc_region="eu"))


@pytest.mark.parametrize(
    "where", [{"region": "cn"}, {"host": "https://openapi.longport.cn"}, {"host": "https://openapi.longportapp.CN."}]
)
def test_a_us_account_is_never_sent_to_a_cn_host(where: dict) -> None:
    with pytest.raises(DataCentreError) as raised:
        LongPortSettings.from_connection(conn(token="us_token", **where))
    text = str(raised.value)
    assert "US-region account (its access token starts with 'us_')" in text and "mainland-China host" in text
    assert "https://openapi.longportapp.com" in text and "us_token" not in text
    # an AP account may use it, and a US account the global host
    assert LongPortSettings.from_connection(conn(**where)).dc_region == "ap"
    assert LongPortSettings.from_connection(conn(token="us_token")).base_url == "https://openapi.longportapp.com"


def test_a_call_of_the_other_data_centre_is_refused_naming_the_region_and_the_setting() -> None:
    us = LongPortSettings.from_connection(conn(token="us_token"))
    us.require_dc_region("us", "POST /x", "use y")  # its own data centre: no error
    with pytest.raises(DataCentreError) as raised:
        us.require_dc_region("ap", "GET /v1/asset/cashflow", "use the US endpoint")
    text = str(raised.value)
    assert text.startswith("connection 'acct' is a US-region account (its access token starts with 'us_')")
    assert "only available in the AP data centre: use the US endpoint" in text and "dc_region='ap'" in text
    assert not raised.value.retryable and isinstance(raised.value, LongPortConfigError)
    ap = LongPortSettings.from_connection(conn())
    with pytest.raises(DataCentreError, match=r"AP-region account \(no credential starts with 'us_'\).*dc_region='us'"):
        ap.require_dc_region("us", "POST /v1/us/assets/transaction-history", "use GET /v1/asset/cashflow")


def _prepared(auth: requests.auth.AuthBase, method: str = "GET", body: bytes | None = None) -> requests.PreparedRequest:
    request = requests.Request(method, "https://example.test/v1/path?b=2&a=1", data=body).prepare()
    return auth(request)


def test_every_request_carries_the_region_header_in_both_auth_modes() -> None:
    assert _prepared(SignatureAuth("k", "s", "t")).headers["x-dc-region"] == "ap"
    assert _prepared(SignatureAuth("k", "s", "us_t", dc_region="us")).headers["x-dc-region"] == "us"
    assert _prepared(BearerAuth("c", "us_t", dc_region="us")).headers["x-dc-region"] == "us"
    assert "dc_region='us'" in repr(BearerAuth("c", "us_t", dc_region="us")) and "us_t" not in repr(
        BearerAuth("c", "us_t", dc_region="us")
    )


def test_a_post_is_signed_with_its_body_hash_and_two_bodies_are_not_replays() -> None:
    now = [1_700_000_000.5]
    clock = _TimestampClock(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    auth = SignatureAuth("k", "s", "t", dc_region="us", clock=clock)
    body = json.dumps({"start": 1, "end": 2, "page": 1, "size": 100}).encode()
    signed = _prepared(auth, "POST", body)
    canonical = canonical_request(
        "POST", "/v1/path", "b=2&a=1", access_token="t", app_key="k", timestamp="1700000000", body=body
    )
    assert canonical.endswith("|authorization;x-api-key;x-timestamp|" + hashlib.sha1(body).hexdigest())
    assert signed.headers["X-Api-Signature"].endswith("Signature=" + sign(canonical, "s"))
    # another page in the same second is another request: no wait; the same body again must wait a second
    other = _prepared(auth, "POST", body.replace(b'"page": 1', b'"page": 2'))
    assert other.headers["X-Timestamp"] == "1700000000"
    assert _prepared(auth, "POST", body).headers["X-Timestamp"] == "1700000001"


def test_the_oauth_refresh_carries_the_region_header_too() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from airflow_provider_cashflow.client.auth import OAuthRefresher

    seen: list[str | None] = []

    class Token(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("x-dc-region"))
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"access_token": "us_new", "refresh_token": "us_r2", "token_type": "Bearer"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/oauth2/token"
        with requests.Session() as session:
            assert OAuthRefresher(url, "c", "us_r", dc_region="us").refresh(session, 5) == "us_new"
            OAuthRefresher(url, "c", "r").refresh(session, 5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert seen == ["us", "ap"]


def test_a_refusal_reads_an_ap_region_account_with_its_article() -> None:
    settings = LongPortSettings.from_connection(conn())
    with pytest.raises(DataCentreError) as raised:
        settings.require_dc_region("us", "POST /v1/us/assets/transaction-history", "use the cash-flow endpoint")
    assert str(raised.value).startswith("connection 'acct' is an AP-region account (")
    assert "If the account is in fact a US one" in str(raised.value)


def test_a_uri_connection_s_host_error_keeps_its_port() -> None:
    from airflow.models.connection import Connection

    uri = Connection(conn_id="acct", uri="longport://key:secret@openapi.example.com:8443?access_token=token")
    with pytest.raises(LongPortConfigError) as raised:
        LongPortSettings.from_connection(uri)
    assert "host 'openapi.example.com:8443' has no scheme" in str(raised.value)
    assert "e.g. https://openapi.example.com:8443 or https://" in str(raised.value)
