"""A LongPort-compatible HTTP server for ``GET /v1/asset/cashflow`` (AP) and
``POST /v1/us/assets/transaction-history`` (US), strict where the live service is.

Checks signatures (both modes) against the exact wire path, query and body hash, the data centre (``x-dc-region``
and the account's region, :mod:`~airflow_provider_cashflow.sandbox.accounts`), rejects replayed signatures (403202),
enforces 30 calls / 30 s and 0.02 s between calls per app key, validates parameters, and injects faults.
Standard library only, so it starts fast and needs no Airflow.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import ssl
import struct
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_cashflow.client.auth import canonical_request, sign
from airflow_provider_cashflow.defaults import CASHFLOW_PATH, DC_REGION_HEADER, OAUTH_TOKEN_PATH, US_HISTORY_PATH
from airflow_provider_cashflow.sandbox.accounts import Account, wrong_centre
from airflow_provider_cashflow.sandbox.control import control_answer
from airflow_provider_cashflow.sandbox.faults import DATA_FAULTS, drifted, us_drifted
from airflow_provider_cashflow.sandbox.params import ApiError, cash_flow_params, us_history_params
from airflow_provider_cashflow.sandbox.state import SandboxState

__all__ = ["SandboxServer"]

TIMESTAMP_SKEW = 300  # seconds a request's X-Timestamp may differ from the server clock


# SO_TIMESTAMPNS (Linux): every read reports, as ancillary data, when the kernel received the bytes it returns
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_STAMP_SPACE = socket.CMSG_SPACE(16)


def _enable_receive_stamps(listener: socket.socket) -> bool:
    """Stamp what every connection accepted from ``listener`` receives, from its first byte on: set on the
    accepted socket instead, a request that came before the handler thread ran would carry no stamp."""
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        listener.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def _arrival(connection: socket.socket) -> float:
    """When the next request's first byte was received, on this process's monotonic clock (waits for it)."""
    try:
        _, ancillary, _, _ = connection.recvmsg(1, _STAMP_SPACE, socket.MSG_PEEK)
    except OSError:
        return time.monotonic()
    now_wall, now = time.time(), time.monotonic()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            received = float(seconds + nanoseconds / 1e9)
            return now - max(0.0, now_wall - received)
    return now


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet; stats tell the story
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle holds the body's last segment until the
        # client's delayed ACK (up to 40 ms a response), a stall no production server has.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a TLS connection (a test's) reads decrypted records, which carry no ancillary data
        self._kernel_stamps = self.server.kernel_stamps and not isinstance(self.connection, ssl.SSLSocket)

    def handle_one_request(self) -> None:
        # A call's arrival is when its first bytes reached the socket, as the kernel stamped them: read after the
        # handler thread wakes, it would add however long this loaded process took to schedule the thread, and
        # two calls paced 0.27 s apart could look closer than the 0.02 s the budget allows. The peek waits for
        # the next request as readline would; no client we serve pipelines, so nothing waits in rfile's buffer.
        self.arrived = _arrival(self.connection) if self._kernel_stamps else time.monotonic()
        super().handle_one_request()

    # plumbing ------------------------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-trace-id", uuid.uuid4().hex)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _envelope(
        self, status: int, code: int, message: str, data: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"code": code, "message": message, "data": data}, ensure_ascii=False).encode("utf-8")
        self._send(status, body, headers=headers)

    def _reset(self) -> None:
        # RST instead of FIN: what a dropped connection looks like to the client
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # routes --------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        state = self.server.state
        path, _, query = self.path.partition("?")
        body = self._body()
        try:
            if (path, method) in ((CASHFLOW_PATH, "GET"), (US_HISTORY_PATH, "POST")):
                self._data_call(state, method, path, query, body)
            elif path == "/v1/token/refresh" and method == "GET":
                account = self._authenticate(state, method, path, query, body)
                self._check_centre(state, path, account)
                token = account.issue_token()
                expires = datetime.now(UTC) + timedelta(days=90)
                self._envelope(
                    200, 0, "success", {"token": token, "expired_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
                )
            elif path == OAUTH_TOKEN_PATH and method == "POST":
                self._oauth_token(state, body)
            elif path.startswith("/__sandbox/"):
                self._control(state, method, path, query, body)
            else:
                self._envelope(404, 404001, f"no such endpoint {method} {path}")
        except ApiError as error:
            self._envelope(error.http_status, error.code, error.message, headers=error.headers)
        except _Answered:
            pass
        except _Reset:
            self._reset()

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the connection was dropped on purpose
            super().finish()

    def _authenticate(self, state: SandboxState, method: str, path: str, query: str, body: bytes) -> Account:
        """Check the caller like the live gateway does; returns its account."""
        app_key = self.headers.get("X-Api-Key", "")
        account = state.account(app_key)
        if account is None:
            state.count("rejected_auth")
            raise ApiError(403, 403203, "apikey illegal")
        authorization = self.headers.get("Authorization", "")
        bearer = authorization.startswith("Bearer ")
        token = authorization[len("Bearer ") :] if bearer else authorization
        if token in account.expired_tokens:
            state.count("rejected_auth")
            raise ApiError(401, 401003, "token expired")
        if token not in account.valid_tokens:
            state.count("rejected_auth")
            raise ApiError(401, 401004, "token invalid")
        if bearer:
            return account
        timestamp = self.headers.get("X-Timestamp", "")
        header = self.headers.get("X-Api-Signature", "")
        prefix = "HMAC-SHA256 SignedHeaders=authorization;x-api-key;x-timestamp, Signature="
        if not timestamp.isdigit() or not header.startswith(prefix):
            state.count("rejected_auth")
            raise ApiError(403, 403201, "signature invalid")
        canonical = canonical_request(
            method, path, query, access_token=token, app_key=app_key, timestamp=timestamp, body=body or None
        )
        expected = sign(canonical, account.credentials.app_secret)
        if (
            not hmac.compare_digest(header[len(prefix) :], expected)
            or abs(int(timestamp) - time.time()) > TIMESTAMP_SKEW
        ):
            state.count("rejected_auth")
            raise ApiError(403, 403201, "signature invalid")
        if not state.remember_signature(expected):
            state.count("rejected_replay")
            raise ApiError(403, 403202, "duplicate request")
        return account

    def _check_centre(self, state: SandboxState, path: str, account: Account) -> None:
        refusal = wrong_centre(path, account.region, self.headers.get(DC_REGION_HEADER))
        if refusal:
            state.count("rejected_region")
            raise refusal

    def _data_call(self, state: SandboxState, method: str, path: str, query: str, body: bytes) -> None:
        """One page of either data centre's history: authenticated, routed, paced, faulted, drifting."""
        us = path == US_HISTORY_PATH
        state.count("calls")
        account = self._authenticate(state, method, path, query, body)
        self._check_centre(state, path, account)
        app_key = account.credentials.app_key
        refusal = state.budget(app_key).admit(self.arrived) if state.rate_limit else None
        if refusal:
            state.count("rejected_rate_limit")
            state.count_reason(refusal)
            raise ApiError(429, 429002, "api request is limited")
        state.after_authenticated_call()
        fault = state.faults.next_fault()
        if fault and fault not in DATA_FAULTS:
            state.count_fault(fault)
            self._inject(fault, state)
        try:
            p = (
                us_history_params(
                    body, state.us.max_size, state.us.max_span, clamp=state.us.clamp, code=state.us.refusal_code
                )
                if us
                else cash_flow_params(query)
            )
        except ApiError:
            state.count("rejected_params")
            raise
        history = state.us_history if us else state.history
        start, end = (p["start"], p["end"]) if us else (p["start_time"], p["end_time"])
        served = p["served"] if us else p["size"]  # a US size above its maximum may be clamped silently
        rows = history.page(
            start,
            state.upper_bound(end, us=us),
            (p["types"], p["currency"]) if us else (p["business_type"], p["symbol"]),
            state.view_for(app_key, start, end) if history.source.revisions is not None else None,
            (p["page"] - 1) * served,
            served,
            tick=state.next_tick(),
            app_key=app_key,
            window=(start, end),
            order=state.us.order if us else "newest",
        )
        if fault == "missing_field" and rows:
            state.count_fault(fault)
            del rows[0]["currency"]
        elif fault == "type_drift":
            state.count_fault(fault)
            rows = [(us_drifted if us else drifted)(row) for row in rows]
        if state.latency:
            time.sleep(state.latency)  # a wide-area round trip, as to the live service
        state.count("pages_served")
        state.count("records_served", len(rows))
        state.faults.page_served()
        self._envelope(200, 0, "success", {"current_page": p["page"], "items": rows} if us else {"list": rows})
        state.page_answered(self.arrived, time.monotonic())

    def _inject(self, fault: str, state: SandboxState) -> None:
        if fault == "5xx":
            raise ApiError(500, 500000, "internal error")
        if fault == "429":
            raise ApiError(429, 429001, "ip request ratelimit", headers={"Retry-After": "1"})
        if fault == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            self._send(502, page, content_type="text/html")
            raise _Answered
        if fault == "truncated":
            self._send(
                200, b'{"code":0,"message":"success","data":{"list":[{"transaction_flow_name":"Buy', "application/json"
            )
            raise _Answered
        if fault == "stall":
            time.sleep(state.faults.stall_seconds)
            return
        raise _Reset

    def _oauth_token(self, state: SandboxState, body: bytes) -> None:
        state.count("token_requests")
        fault = state.next_token_fault()
        if fault == "reset":
            raise _Reset
        if fault:
            answer = {"error": "temporarily_unavailable", "error_description": "the token service is restarting"}
            self._send(int(fault), json.dumps(answer).encode())
            return
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
        account = state.account(form.get("client_id", ""))
        if form.get("grant_type") != "refresh_token" or account is None:
            self._send(
                400,
                json.dumps({"error": "invalid_request", "error_description": "unsupported grant or client"}).encode(),
            )
            return
        self._check_centre(state, OAUTH_TOKEN_PATH, account)
        if not hmac.compare_digest(form.get("refresh_token", ""), account.credentials.refresh_token):
            self._send(
                400, json.dumps({"error": "invalid_grant", "error_description": "refresh token is invalid"}).encode()
            )
            return
        token = account.issue_token()
        payload = {
            "access_token": token,
            "refresh_token": account.rotate_refresh_token(),
            "expires_in": 2592000,
            "token_type": "Bearer",
        }
        self._send(200, json.dumps(payload).encode())

    def _control(self, state: SandboxState, method: str, path: str, query: str, body: bytes) -> None:
        status, answer = control_answer(state, method, path, query, body)
        self._send(status, answer)


class _Reset(Exception):
    pass


class _Answered(Exception):
    pass


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        super().__init__((host, port), _Handler)
        self.kernel_stamps = _enable_receive_stamps(self.socket)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (a timeout it was told to expect); nothing to report
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.socket.getsockname()[:2]  # what server_address holds, typed for a named socket too
        return f"http://{host}:{port}"
