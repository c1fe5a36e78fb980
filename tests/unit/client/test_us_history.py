"""The US endpoint's client against a small stand-in of the live service on loopback: a strict body signature, the
region header, no order, an undocumented filter field and page-size limit. The sandbox tests
(tests/integration/test_us_accounts.py) hold the whole path to the sandbox's ground truth."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_cashflow.client.auth import SignatureAuth, canonical_request, sign
from airflow_provider_cashflow.client.paced_session import CallStats, PacedSession
from airflow_provider_cashflow.client.ratelimit import RateLimiter
from airflow_provider_cashflow.client.retry import RetryBounds, RetryLoop
from airflow_provider_cashflow.client.us_history import UsHistoryEndpoint
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import parse_us_transaction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 10, 31, tzinfo=NEW_YORK)  # Saturday; Sunday 2026-11-01 has 25 hours
END = datetime(2026, 11, 3, tzinfo=NEW_YORK)


def items(seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    first, last = int(START.timestamp()) - 3600, int(END.timestamp()) + 3600
    rows = []
    for n in range(120):
        created = rng.randint(first, last)
        if n % 10 == 0:  # on a New York midnight, the hardest place to be
            created = int(datetime(2026, 11, 1 + n % 3, tzinfo=NEW_YORK).timestamp())
        done = created + rng.choice([0, 59, 7200, 86_400])  # some are done on the next day
        rows.append(
            {
                "title": f"t{n} 存入",
                "amount": f"{rng.randint(-9999, 9999)}.{n:02d}",
                "currency": "USD",
                "ref_no": f"R{n}",
                "create_at": str(created),
                "done_at": str(done),
            }
        )
    rows.append(dict(rows[-1]))  # a twin
    return rows


class StandIn(ThreadingHTTPServer):
    """Filters on ``field`` with both ends inclusive, answers in random order, refuses ``size > max_size`` and
    windows longer than ``max_span`` seconds, pages above ``max_page``, and every call asking for ``refused_currency``."""

    def __init__(
        self,
        rows: list[dict],
        field: str,
        max_size: int = 50,
        max_span: int | None = None,
        max_page: int | None = None,
        refused_currency: str | None = None,
    ):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rows, self.field, self.max_size, self.max_span, self.bodies = rows, field, max_size, max_span, []
        self.max_page, self.refused_currency = max_page, refused_currency


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        canonical = canonical_request(
            "POST",
            self.path,
            "",
            access_token=self.headers["Authorization"],
            app_key=self.headers["X-Api-Key"],
            timestamp=self.headers["X-Timestamp"],
            body=body,
        )
        asked = json.loads(body)
        self.server.bodies.append(asked)
        if not self.headers["X-Api-Signature"].endswith(sign(canonical, "secret")):
            return self._answer(403, {"code": 403201, "message": "signature invalid"})
        if self.headers.get("x-dc-region") != "us":
            return self._answer(500, {"code": 12, "message": "gateway error"})
        if self.server.refused_currency and asked.get("currency") == self.server.refused_currency:
            return self._answer(400, {"code": 400001, "message": "invalid parameter: currency"})
        if self.server.max_page and asked["page"] > self.server.max_page:
            return self._answer(400, {"code": 400003, "message": "invalid parameter: page"})
        if asked["size"] > self.server.max_size:
            return self._answer(400, {"code": 400002, "message": "size out of range"})
        if self.server.max_span and asked["end"] - asked["start"] > self.server.max_span:
            return self._answer(400, {"code": 400001, "message": "invalid parameter: span"})
        rows = [r for r in self.server.rows if asked["start"] <= int(r[self.server.field]) <= asked["end"]]
        random.shuffle(rows)
        page = rows[(asked["page"] - 1) * asked["size"] : asked["page"] * asked["size"]]
        self._answer(200, {"code": 0, "message": "success", "data": {"current_page": asked["page"], "items": page}})

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(server: StandIn) -> Iterator[UsHistoryEndpoint]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stats = CallStats()
    session = PacedSession(
        f"http://127.0.0.1:{server.server_port}",
        SignatureAuth("key", "secret", "us_token", dc_region="us"),
        RateLimiter(100_000, 1, 0),
        5,
        stats,
    )
    try:
        yield UsHistoryEndpoint(session, RetryLoop(RetryBounds(max_attempts=1), session.limiter, stats), stats)
    finally:
        session.close()
        server.shutdown()
        server.server_close()
        thread.join(5)


def truth(rows: list[dict], field: str, start: datetime, end: datetime) -> list:
    return sorted(parse_us_transaction(r) for r in rows if start.timestamp() <= int(r[field]) < end.timestamp())


@pytest.mark.parametrize("field", ["create_at", "done_at"])
def test_each_new_york_day_is_exact_whichever_time_the_server_filters_on(field: str) -> None:
    rows = items()
    server = StandIn(rows, field)
    for endpoint in serve(server):
        query = UsHistoryQuery(Window.of(START, END), page_size=7)  # small pages: the window must be split
        days = [(day, sorted(records)) for day, records in endpoint.iter_days(query, NEW_YORK)]
        assert [day.end - day.start for day, _ in days] == [
            timedelta(hours=24),
            timedelta(hours=25),
            timedelta(hours=24),
        ]
        for day, got in days:
            assert got == truth(rows, field, day.start, day.end)
        assert sum(len(got) for _, got in days) > 90
        assert sorted(endpoint.iter_window(query)) == truth(rows, field, START, END)
    # every call asked for 7 records of whole seconds; the window was split (no day fits in one page of 7)
    assert {body["size"] for body in server.bodies} == {7} and len(server.bodies) > 30
    assert all(isinstance(body["start"], int) and body["start"] <= body["end"] for body in server.bodies)


def test_a_size_the_server_refuses_is_stepped_down_and_the_warning_names_page_size(caplog) -> None:
    rows = items()
    server = StandIn(rows, "create_at", max_size=50)
    for endpoint in serve(server):
        got = sorted(endpoint.iter_window(UsHistoryQuery(Window.of(START, END))))
    assert got == truth(rows, "create_at", START, END)
    # the refused default (10000), the same window with a size any server takes, then sizes it takes
    assert [body["size"] for body in server.bodies[:2]] == [10_000, 1]
    assert len([body for body in server.bodies if body["size"] > 50]) <= 6  # bisection: a few sizes refused
    warnings = " ".join(r.getMessage() for r in caplog.records if "refused size" in r.getMessage())
    assert "page_size" in warnings and "business_type" not in warnings and "symbol" not in warnings


def test_refused_filters_fail_at_once_naming_them() -> None:
    server = StandIn(items(), "create_at", refused_currency="XYZ")
    for endpoint in serve(server):
        query = UsHistoryQuery(Window.of(START, END), page_size=50, currency="XYZ")
        with pytest.raises(
            LongPortConfigError, match=r"types=\[\], currency='XYZ'.*the filters were refused"
        ) as refused:
            list(endpoint.iter_window(query))
        assert "business_type" not in str(refused.value) and "symbol" not in str(refused.value)
    # the refused call, the same span with size 20, one second with size 20
    assert len(server.bodies) == 3 and server.bodies[2]["start"] == server.bodies[2]["end"]


def test_a_crowded_second_whose_later_page_is_refused_fails_instead_of_recursing() -> None:
    second = int(datetime(2026, 11, 1, 12, tzinfo=NEW_YORK).timestamp())
    rows = [{**row, "create_at": str(second), "ref_no": f"C{n}"} for n, row in enumerate(items() * 2)]  # 242 in one
    server = StandIn(rows, "create_at", max_size=50, max_page=2)
    for endpoint in serve(server):
        with pytest.raises(LongPortConfigError, match="refused the request"):
            list(endpoint.iter_window(UsHistoryQuery(Window.of(START, END), page_size=50)))
    assert any(body["page"] == 3 for body in server.bodies) and len(server.bodies) < 60


def test_the_shortest_refused_span_is_learnt_once_for_every_day() -> None:
    rows = items()
    server = StandIn(rows, "create_at", max_span=5 * 3600)
    for endpoint in serve(server):
        query = UsHistoryQuery(Window.of(START, END), page_size=50)
        days = [(day, sorted(records)) for day, records in endpoint.iter_days(query, NEW_YORK)]
    for day, got in days:
        assert got == truth(rows, "create_at", day.start, day.end)
    refused = [b for b in server.bodies if b["end"] - b["start"] > 5 * 3600]
    # the first day: 24 h, its probe with size 1, then the longest span taken is found by bisection; the later
    # days ask no span longer than the shortest refused
    assert len(refused) <= 8, refused  # each refused span, and the size probe of the first


def test_a_window_longer_than_the_server_takes_is_read_in_halves_exactly() -> None:
    rows = items()
    server = StandIn(rows, "create_at", max_span=5 * 3600)
    for endpoint in serve(server):
        got = sorted(endpoint.iter_window(UsHistoryQuery(Window.of(START, END), page_size=50)))
    assert got == truth(rows, "create_at", START, END) and len(got) > 90
    refused = [b for b in server.bodies if b["end"] - b["start"] > 5 * 3600]
    # the bisection of the longest span taken refuses a few; later parts as long are split without a call
    assert 1 <= len(refused) <= 12, refused


def test_an_answer_that_is_not_the_envelope_names_the_post() -> None:
    from airflow_provider_cashflow.client.envelope import RawAnswer
    from airflow_provider_cashflow.client.us_history import decode_us_page
    from airflow_provider_cashflow.errors import LongPortTransportError

    answer = RawAnswer("/v1/us/assets/transaction-history", 502, {}, b"<html>bad gateway</html>", "POST")
    with pytest.raises(LongPortTransportError, match=r"^POST /v1/us/assets/transaction-history answered HTTP 502"):
        decode_us_page(answer)
