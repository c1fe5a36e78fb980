"""Opening an answer's envelope: data and trace id, or an error that says which kind of failure it was."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cashflow.client.envelope import RawAnswer, open_envelope, page_rows
from airflow_provider_cashflow.errors import LongPortAPIError, LongPortTransportError


def answer(body: bytes | dict, status: int = 200, **headers: str) -> RawAnswer:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    return RawAnswer("/v1/asset/cashflow", status, {"x-trace-id": "t-1", **headers}, raw)


def test_a_success_gives_the_data_with_exact_decimals_and_the_trace_id() -> None:
    data, trace_id = open_envelope(answer(b'{"code": 0, "message": "ok", "data": {"list": [{"balance": 0.1}]}}'))
    assert trace_id == "t-1"
    assert str(data["list"][0]["balance"]) == "0.1"  # a Decimal, not the float 0.1000000000000000055...


def test_a_body_that_is_not_json_is_a_transport_error_naming_status_and_content_type() -> None:
    html = answer(b"<html>502 Bad Gateway</html>", 502, **{"Content-Type": "text/html"})
    with pytest.raises(
        LongPortTransportError, match=r"HTTP 502 with a body that is not JSON \(text/html, 28 bytes\).*t-1"
    ):
        open_envelope(html)


@pytest.mark.parametrize("body", [{"data": {}}, {"code": "0"}, {"code": True}, b"[1, 2]"])
def test_json_without_the_envelope_is_a_transport_error(body: bytes | dict) -> None:
    with pytest.raises(LongPortTransportError, match="without the API's envelope"):
        open_envelope(answer(body, 503))


def test_a_non_zero_code_is_the_api_s_error_with_its_retry_after() -> None:
    limited = answer({"code": 429001, "message": "ip request ratelimit"}, 429, **{"Retry-After": "2"})
    with pytest.raises(LongPortAPIError) as info:
        open_envelope(limited)
    error = info.value
    assert (error.code, error.http_status, error.trace_id, error.retry_after) == (429001, 429, "t-1", 2.0)
    assert error.retryable


def test_a_missing_list_is_an_empty_page_and_a_wrong_one_an_error() -> None:
    assert page_rows({}, "/p", None) == [] and page_rows(None, "/p", None) == []
    with pytest.raises(LongPortTransportError, match=r"data.list of type dict"):
        page_rows({"list": {}}, "/p", "t-1")
